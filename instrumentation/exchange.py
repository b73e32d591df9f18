"""One request/response exchange in flight: the per-request state behind both middlewares.

Kept per request, never on the middleware, so concurrent requests cannot mix. The protocol adapters
(`middleware.py` for ASGI, `wsgi.py` for WSGI) feed it what passes through, each chunk forwarded
unchanged; capture runs inside `try` so a capture bug is recorded on the span (as a
`reqlog.capture_error` event, not an `exception` event, so the row's exception columns keep meaning
"the app failed") and the request goes on. `finish()` puts the response side on the span in one
`set_attributes` call and ends it. Everything here is protocol-neutral: response headers arrive as
one dict of header attributes (key -> tuple of decoded text), and `carrier` is the ASGI scope or
the WSGI environ (what a `user_resolver` is given).

`current_exchange` holds the exchange being served: the adapters set it around the app, and
`set_user` and the framework hooks (Django, Flask) find their request through it.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Mapping
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from opentelemetry.trace import Span, Status, StatusCode

from . import attributes as attr
from .capture import BodyCapture
from .identity import UserIdentity, text_or_none, user_from_object
from .span_attributes import set_built_attributes

if TYPE_CHECKING:
    from .core import CaptureCore

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
_RESP_CONTENT_LENGTH = _RESP + "content-length"

current_exchange: ContextVar[Exchange | None] = ContextVar("reqlog_exchange", default=None)


class Exchange:
    """Capture state of one HTTP request; created and finished by the middleware."""

    __slots__ = (
        "_middleware",
        "carrier",
        "span",
        "_request_attributes",
        "_unwritten",
        "request_body",
        "response_body",
        "response_attributes",
        "status_code",
        "end_time",
        "exception",
        "explicit_user",
        "framework_user",
        "route",
        "finished",
    )

    def __init__(
        self,
        middleware: CaptureCore,
        carrier: Mapping[str, Any],
        span: Span,
        request_attributes: dict[str, Any],
        unwritten: tuple[dict[str, Any], ...] = (),
    ) -> None:
        self._middleware = middleware
        self.carrier = carrier
        self.span = span
        self._request_attributes = request_attributes
        self._unwritten = unwritten  # request attributes `start_span` left for `finish` to write
        self.request_body: BodyCapture | None = None
        self.response_body: BodyCapture | None = None
        self.response_attributes: dict[str, Any] = {}
        self.status_code: int | None = None
        self.end_time: int | None = None
        self.exception: BaseException | None = None
        self.explicit_user: UserIdentity | None = None
        self.framework_user: UserIdentity | None = None
        self.route: str | None = None
        self.finished = False

    def request_chunk(self, data: bytes) -> None:
        """A chunk of the request body as the app (or the unread-body drain) read it."""
        body = self.request_body
        if body is not None:
            try:
                body.feed(data)
            except Exception as exc:
                self.request_body = None
                self.capture_failed(exc)

    def request_ended(self) -> None:
        if self.request_body is not None:
            self.request_body.end()

    def response_chunk(self, data: bytes) -> None:
        body = self.response_body
        if body is not None:
            try:
                body.feed(data)
            except Exception as exc:
                self.response_body = None
                self.capture_failed(exc)

    def response_ended(self) -> None:
        """The last response byte went to the server: the span's end time (later work is not counted)."""
        self.end_time = time.time_ns()
        if self.response_body is not None:
            self.response_body.end()

    def response_started(self, status: int, out: dict[str, Any]) -> None:
        """The status and the response's header attributes (lowercased keys, tuples of decoded text,
        built by the adapter); a second call replaces the first. `out` becomes the exchange's."""
        try:
            self.status_code = status
            # The last value of each counts (Django, for one, sends `Content-Type` as it spells it:
            # the keys are lowercased), read before sanitising can hide it.
            get = out.get
            content_type, encoding = get(_RESP_CONTENT_TYPE), get(_RESP_CONTENT_ENCODING)
            length = get(_RESP_CONTENT_LENGTH)
            self.response_attributes = out
            middleware = self._middleware
            if middleware.sanitizer is not None:
                middleware.sanitize(out)
            self.response_body = middleware.body_capture(
                content_type[-1] if content_type else None,
                encoding[-1] if encoding else None,
                length[-1] if length else None,
                capture=middleware.options.capture_response_body,
            )
        except Exception as exc:
            self.response_body = None
            self.capture_failed(exc)

    def unread_wanted(self) -> int:
        """Bytes of a request body the app left unread that are worth reading now it has answered."""
        body = self.request_body
        return 0 if body is None else body.unread_wanted()

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
        """Put the response side, user, route and outcome on the span, then end it. Never raises.

        Idempotent: only the first call ends the span.
        """
        if self.finished:
            return
        self.finished = True
        span = self.span
        logged = self._middleware.status_logged
        if logged is not None:
            status = self.status_code if self.status_code is not None else 500
            if not logged(status):
                # Never ended, so never handed to a span processor: the request is not logged.
                self.exception = None
                return
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
            method = self._request_attributes.get(attr.HTTP_REQUEST_METHOD, "HTTP")
            set_built_attributes(span, *self._unwritten, out, name=f"{method} {self.route}" if self.route else None)
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
        route = self.route or self.fallback_route()
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

    def _user(self) -> UserIdentity | None:
        """Explicit `set_user` first, then the resolver, then the framework's authenticated user."""
        if self.explicit_user is not None:
            return self.explicit_user
        resolver = self._middleware.user_resolver
        if resolver is not None:
            resolved = resolver(self.carrier)
            if resolved is not None:
                user_id, username, full_name = resolved
                return text_or_none(user_id), text_or_none(username), text_or_none(full_name)
        if self.framework_user is not None:
            return self.framework_user
        return user_from_object(self.carrier.get("user"))

    def fallback_route(self) -> str | None:
        """The route a protocol adapter can find by itself when no framework hook named one."""
        return None


def _qualified_name(cls: type) -> str:
    module = cls.__module__
    return cls.__qualname__ if module in (None, "builtins") else f"{module}.{cls.__qualname__}"
