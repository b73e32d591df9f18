"""Django support: its exceptions, its user and its URL pattern, for the span of the current request.

Django's ASGI handler never lets a view's exception reach ASGI middleware: it answers 500 itself
and only announces the exception through the `got_request_exception` signal. Both middlewares
connect `connect_signals()` when Django is loaded, so exceptions are recorded with no setup.

Django keeps the authenticated user on `request.user` (not in the ASGI scope; only Channels' auth
stack puts it there) and the matched URL pattern on `request.resolver_match`. Neither is visible
from outside the handler, so add `RequestLogDjangoMiddleware` to `MIDDLEWARE` after Django's
`AuthenticationMiddleware` to record them. It works in sync and async stacks, under WSGI and ASGI.

The user is read when the view has returned, because Django REST Framework authenticates inside
the view (token, session, JWT or any other class) and then sets the Django request's `user` to the
user it found. So the user DRF set wins; only a request whose `user` is still the session's lazy
object falls back to the session user (through `auser()` in an async stack, where a synchronous
database query is forbidden).
"""

from __future__ import annotations

import sys
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.utils.functional import LazyObject, empty

from .django_user import django_identity
from .exchange import Exchange, current_exchange

_DISPATCH_UID = "reqlog.instrumentation.got_request_exception"


def connect_signals() -> None:
    """Record Django's unhandled view exceptions on the current request's span (idempotent)."""
    from django.core.signals import got_request_exception

    got_request_exception.connect(_on_exception, dispatch_uid=_DISPATCH_UID, weak=False)


def _on_exception(sender: Any, request: Any = None, **kwargs: Any) -> None:
    # Sent from inside Django's `except` block, so the exception is the one being handled.
    exchange = current_exchange.get()
    exc = sys.exc_info()[1]
    if exchange is not None and exc is not None:
        exchange.record_exception(exc)


class RequestLogDjangoMiddleware:
    """Django middleware noting `request.user` and the URL pattern for reqlog's span."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response
        self._async = iscoroutinefunction(get_response)
        if self._async:
            markcoroutinefunction(self)

    def __call__(self, request: Any) -> Any:
        if self._async:
            return self._acall(request)
        response = self.get_response(request)
        exchange = current_exchange.get()
        if exchange is not None:
            try:
                _note_route(exchange, request)
                exchange.framework_user = django_identity(getattr(request, "user", None))
            except Exception as exc:  # never break the app's response
                exchange.capture_failed(exc)
        return response

    async def _acall(self, request: Any) -> Any:
        response = await self.get_response(request)
        exchange = current_exchange.get()
        if exchange is not None:
            try:
                _note_route(exchange, request)
                user = _resolved_user(request)
                if user is _LAZY:
                    auser = getattr(request, "auser", None)
                    # `request.user` would query the database synchronously, which Django forbids here.
                    user = await auser() if auser is not None else None
                exchange.framework_user = django_identity(user)
            except Exception as exc:  # never break the app's response
                exchange.capture_failed(exc)
        return response


_LAZY = object()


def _resolved_user(request: Any) -> Any:
    """The user on the request now: DRF's (a plain object), the session's if already loaded, else `_LAZY`."""
    user = request.__dict__.get("user")
    if isinstance(user, LazyObject):
        wrapped = user._wrapped
        return _LAZY if wrapped is empty else wrapped
    return user


def _note_route(exchange: Exchange, request: Any) -> None:
    match = getattr(request, "resolver_match", None)
    route = getattr(match, "route", None)
    if isinstance(route, str) and route:
        exchange.route = route if route.startswith("/") else f"/{route}"
