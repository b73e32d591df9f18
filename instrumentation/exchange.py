"""One request/response exchange in flight: the per-request state behind `RequestLogMiddleware`.

Kept per request, never on the middleware, so concurrent requests cannot mix. `receive` and `send`
wrap the app's channels: each message is forwarded unchanged, and capture runs before forwarding
inside `try` so a capture bug is recorded on the span (as a `reqlog.capture_error` event, not an
`exception` event, so the row's exception columns keep meaning "the app failed") and the request
goes on. `finish()` puts the response side on the span in one `set_attributes` call and ends it.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any

from opentelemetry.trace import Span, Status, StatusCode

from . import attributes as attr
from .capture import BodyCapture
from .user import user_from_object

if TYPE_CHECKING:
    from .middleware import RequestLogMiddleware

_RESP = attr.RESPONSE_HEADER_PREFIX
_RESP_CONTENT_TYPE = _RESP + "content-type"
_RESP_CONTENT_ENCODING = _RESP + "content-encoding"
_REQUEST_BODY_KEYS = (
    attr.REQUEST_BODY_CONTENT,
    attr.REQUEST_BODY_CONTENT_TYPE,
    attr.REQUEST_BODY_SIZE,
    attr.REQUEST_BODY_TRUNCATED,
)
_RESPONSE_BODY_KEYS = (
    attr.RESPONSE_BODY_CONTENT,
    attr.RESPONSE_BODY_CONTENT_TYPE,
    attr.RESPONSE_BODY_SIZE,
    attr.RESPONSE_BODY_TRUNCATED,
)
_NAME_CACHE_SIZE = 512


class Exchange:
    """Capture state of one HTTP request; created and finished by the middleware."""

    __slots__ = (
        "_middleware",
        "_scope",
        "span",
        "_request_attributes",
        "_send",
        "downstream_receive",
        "request_body",
        "response_body",
        "response_attributes",
        "status_code",
        "end_time",
        "exception",
        "explicit_user",
        "framework_user",
        "route",
    )

    def __init__(
        self,
        middleware: RequestLogMiddleware,
        scope: MutableMapping[str, Any],
        span: Span,
        request_attributes: dict[str, Any],
        send: Callable[[MutableMapping[str, Any]], Awaitable[None]],
    ) -> None:
        self._middleware = middleware
        self._scope = scope
        self.span = span
        self._request_attributes = request_attributes
        self._send = send
        self.downstream_receive: Callable[[], Awaitable[MutableMapping[str, Any]]] | None = None
        self.request_body: BodyCapture | None = None
        self.response_body: BodyCapture | None = None
        self.response_attributes: dict[str, Any] = {}
        self.status_code: int | None = None
        self.end_time: int | None = None
        self.exception: BaseException | None = None
        self.explicit_user: tuple[str | None, str | None, str | None] | None = None
        self.framework_user: tuple[str | None, str | None, str | None] | None = None
        self.route: str | None = None

    async def receive(self) -> MutableMapping[str, Any]:
        assert self.downstream_receive is not None
        message = await self.downstream_receive()
        if message["type"] == "http.request" and self.request_body is not None:
            try:
                self.request_body.feed(message.get("body", b""))
            except Exception as exc:
                self.request_body = None
                self.capture_failed(exc)
        return message

    async def send(self, message: MutableMapping[str, Any]) -> None:
        try:
            kind = message["type"]
            if kind == "http.response.body":
                if self.response_body is not None:
                    self.response_body.feed(message.get("body", b""))
                if not message.get("more_body", False):
                    self.end_time = time.time_ns()
            elif kind == "http.response.start":
                self._response_start(message)
        except Exception as exc:
            self.response_body = None
            self.capture_failed(exc)
        await self._send(message)

    def _response_start(self, message: MutableMapping[str, Any]) -> None:
        self.status_code = int(message["status"])
        out = self.response_attributes
        keys = self._middleware.response_keys
        content_type = encoding = None
        for name, value in message.get("headers") or ():
            key = keys.get(name)
            if key is None:
                key = _RESP + name.decode("latin-1").lower()
                if len(keys) < _NAME_CACHE_SIZE:
                    keys[name] = key
            try:
                text = value.decode()
            except UnicodeDecodeError:
                text = value.decode("latin-1")
            previous = out.get(key)
            out[key] = (text,) if previous is None else (*previous, text)
            # Compare the lowercased key: Django, for one, sends `Content-Type` as it spells it.
            if key == _RESP_CONTENT_TYPE:
                content_type = text
            elif key == _RESP_CONTENT_ENCODING:
                encoding = text
        middleware = self._middleware
        if middleware.sanitizer is not None:
            middleware.sanitize(out)
        self.response_body = middleware.body_capture(
            content_type, encoding, capture=middleware.options.capture_response_body
        )

    def record_exception(self, exc: BaseException) -> None:
        """Note the app's unhandled exception (the first one wins); recorded when the span ends."""
        if self.exception is None:
            self.exception = exc

    def capture_failed(self, exc: Exception) -> None:
        """A bug in capture: leave a trace on the span and let the request go on."""
        try:
            self.span.add_event(
                attr.CAPTURE_ERROR_EVENT,
                {
                    attr.EXCEPTION_TYPE: _qualified_name(type(exc)),
                    attr.EXCEPTION_MESSAGE: str(exc),
                    attr.EXCEPTION_STACKTRACE: "".join(traceback.format_exception(exc)),
                },
            )
        except Exception:
            pass

    def finish(self) -> None:
        """Put the response side, user, route and outcome on the span, then end it. Never raises."""
        span = self.span
        out = self.response_attributes
        try:
            self._finish_attributes(out)
        except Exception as exc:
            self.capture_failed(exc)
        try:
            raised = self.exception
            if raised is not None:
                span.record_exception(raised, escaped=True)
                span.set_status(Status(StatusCode.ERROR, f"{type(raised).__name__}: {raised}"))
            elif self.status_code is not None and self.status_code >= 500:
                span.set_status(Status(StatusCode.ERROR))
            span.set_attributes(out)
            if self.route:
                span.update_name(f"{self._request_attributes.get(attr.HTTP_REQUEST_METHOD, 'HTTP')} {self.route}")
        except Exception as exc:
            self.capture_failed(exc)
        finally:
            # Ends even when the above failed, so no span is left open; frames are dropped now.
            self.exception = None
            span.end(end_time=self.end_time)

    def _finish_attributes(self, out: dict[str, Any]) -> None:
        status = self.status_code
        exc = self.exception
        if status is None and exc is not None:
            status = 500  # the server answers an escaped exception with a 500
        if status is not None:
            out[attr.HTTP_RESPONSE_STATUS_CODE] = status
        if exc is not None:
            out[attr.ERROR_TYPE] = _qualified_name(type(exc))
        elif status is not None and status >= 500:
            out[attr.ERROR_TYPE] = str(status)
        if self.request_body is not None:
            self.request_body.write_attributes(out, _REQUEST_BODY_KEYS)
        if self.response_body is not None:
            self.response_body.write_attributes(out, _RESPONSE_BODY_KEYS)
        route = self.route or _starlette_route(self._scope)
        if route:
            self.route = route
            out[attr.HTTP_ROUTE] = route
        user = self._user()
        if user is not None:
            user_id, username, full_name = user
            if user_id is not None:
                out[attr.USER_ID] = user_id
            if username is not None:
                out[attr.USER_NAME] = username
            if full_name is not None:
                out[attr.USER_FULL_NAME] = full_name

    def _user(self) -> tuple[str | None, str | None, str | None] | None:
        """Explicit `set_user` first, then the resolver, then the framework's authenticated user."""
        if self.explicit_user is not None:
            return self.explicit_user
        resolver = self._middleware.user_resolver
        if resolver is not None:
            resolved = resolver(self._scope)
            if resolved is not None:
                user_id, username, full_name = resolved
                return _text(user_id), _text(username), _text(full_name)
        if self.framework_user is not None:
            return self.framework_user
        return user_from_object(self._scope.get("user"))


def _starlette_route(scope: MutableMapping[str, Any]) -> str | None:
    """Starlette and FastAPI leave the matched route in `scope["route"]`; mounts add `root_path`."""
    route = scope.get("route")
    if route is None:
        return None
    path_format = getattr(route, "path_format", None)
    if not isinstance(path_format, str):
        return None
    return f"{scope.get('root_path', '')}{path_format}"


def _qualified_name(cls: type) -> str:
    module = cls.__module__
    return cls.__qualname__ if module in (None, "builtins") else f"{module}.{cls.__qualname__}"


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = value if isinstance(value, str) else str(value)
    return text or None
