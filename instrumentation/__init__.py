"""reqlog's instrumentation: puts the whole request and response on the OTel server span.

`RequestLogMiddleware` (or `instrument(app)`) wraps an ASGI app, `RequestLogWSGIMiddleware` a WSGI
app (Django under gunicorn, Flask's `app.wsgi_app`), both over one capture core; `set_user` names the user from a
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
from .wsgi import RequestLogWSGIMiddleware


def instrument(app: ASGIApp, **options: Any) -> RequestLogMiddleware:
    """`RequestLogMiddleware(app, **options)`: the app, wrapped whole."""
    return RequestLogMiddleware(app, **options)


__all__ = [
    "OptionError",
    "Options",
    "RequestLogMiddleware",
    "RequestLogWSGIMiddleware",
    "attributes",
    "configure",
    "instrument",
    "set_user",
]
