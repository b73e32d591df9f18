"""reqlog's instrumentation: puts the whole request and response on the OTel server span.

`RequestLogMiddleware` (or `instrument(app)`) wraps an ASGI app; `set_user` names the user from a
handler; `configure()` sets up the TracerProvider that ships the spans to reqlog. Django apps also
add `instrumentation.django_hooks.RequestLogDjangoMiddleware` to `MIDDLEWARE` for user and route.
"""

from __future__ import annotations

from typing import Any

from . import attributes
from .middleware import ASGIApp, RequestLogMiddleware
from .options import OptionError, Options
from .provider import configure
from .user import set_user


def instrument(app: ASGIApp, **options: Any) -> RequestLogMiddleware:
    """`RequestLogMiddleware(app, **options)`: the app, wrapped whole."""
    return RequestLogMiddleware(app, **options)


__all__ = [
    "OptionError",
    "Options",
    "RequestLogMiddleware",
    "attributes",
    "configure",
    "instrument",
    "set_user",
]
