"""`RequestLogMiddleware`: one OTel SERVER span per HTTP request, carrying the whole exchange.

Why not `OpenTelemetryMiddleware` itself: FACTS.md measured it at ~600 us per request, most of it
its own Python (headers re-decoded on every lookup, the URL rebuilt and parsed, attributes set one
by one and twice, two INTERNAL spans per send). This middleware builds on the same pieces, the SDK
tracer, the global propagator, `opentelemetry.util.http`'s `ExcludeList` and `SanitizeValue` (what
the ASGI instrumentation uses for `excluded_urls` and header sanitising) and the
instrumentation-suppression switch, but decodes each header once and hands every request attribute
to `start_span` in one dict and every response attribute to one `set_attributes` call.

ASGI ordering, and why the span ends when the app returns rather than with the last body chunk:
Starlette and FastAPI (ServerErrorMiddleware) send their 500 response *before* re-raising the
exception. Stock OTel ends the span on the final `http.response.body`, so when it wraps such an app
from outside the exception arrives after the span has ended and is lost. Here the final body only
stamps the end time; the span ends in `finally`, after the exception has been recorded, with that
end time, so the duration still excludes background tasks run after the response.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from opentelemetry import context, trace
from opentelemetry.instrumentation.utils import is_http_instrumentation_enabled
from opentelemetry.propagate import extract
from opentelemetry.propagators.textmap import Getter
from opentelemetry.trace import SpanKind
from opentelemetry.util.http import ExcludeList, SanitizeValue

from . import attributes as attr
from .capture import SIZE, BodyCapture, choose_mode
from .client import ClientResolver
from .exchange import Exchange
from .options import Options, UserResolver, parse_networks
from .url_path import span_path
from .user import current_exchange

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_TRACER_NAME = "reqlog.instrumentation"
_REQ = attr.REQUEST_HEADER_PREFIX
_CONTENT_TYPE = _REQ + "content-type"
_CONTENT_ENCODING = _REQ + "content-encoding"
_CONTENT_LENGTH = _REQ + "content-length"
_TRANSFER_ENCODING = _REQ + "transfer-encoding"
_USER_AGENT = _REQ + "user-agent"
_FORWARDED_FOR = _REQ + "x-forwarded-for"
_FORWARDED = _REQ + "forwarded"
_REAL_IP = _REQ + "x-real-ip"
_HEADER_PREFIXES = (attr.REQUEST_HEADER_PREFIX, attr.RESPONSE_HEADER_PREFIX)
_REDACTED = "[REDACTED]"  # what OTel's SanitizeValue writes
_NAME_CACHE_SIZE = 512  # header names seen; bounded so hostile clients cannot grow it


class _HeaderGetter(Getter[dict[str, Any]]):
    """Propagator getter over the already-decoded request header attributes (no second decode)."""

    def get(self, carrier: dict[str, Any], key: str) -> list[str] | None:
        value = carrier.get(_REQ + key.lower())
        return list(value) if value is not None else None

    def keys(self, carrier: dict[str, Any]) -> list[str]:
        return [key[len(_REQ) :] for key in carrier if key.startswith(_REQ)]


_GETTER = _HeaderGetter()


class RequestLogMiddleware:
    """ASGI middleware recording each HTTP request as one SERVER span for reqlog.

    Install it around a whole app (`app = RequestLogMiddleware(app)`), as Starlette/FastAPI
    middleware (`app.add_middleware(RequestLogMiddleware, **options)`) or around Django's
    `get_asgi_application()`. Websocket and lifespan scopes pass through untouched.

    `tracer_provider`: the provider to use (the global one otherwise). `user_resolver(scope)`:
    returns `(id, username, full_name)` or `None`. `options`: an `Options`; otherwise keyword
    options (`max_body_bytes=`, `trusted_proxies=`, ...) with `REQLOG_*` variables for the rest.
    Raises `OptionError` (a `ValueError`) for a bad option, at construction.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        tracer_provider: trace.TracerProvider | None = None,
        user_resolver: UserResolver | None = None,
        options: Options | None = None,
        **option_values: Any,
    ) -> None:
        self.app = app
        self.options = options if options is not None else Options.from_env(os.environ, **option_values)
        self.user_resolver = user_resolver
        self._tracer = trace.get_tracer(_TRACER_NAME, tracer_provider=tracer_provider)
        # OTel's own classes, so `excluded_urls` and header sanitising mean what they mean there.
        self._excluded = ExcludeList(self.options.excluded_urls) if self.options.excluded_urls else None
        self.sanitizer = SanitizeValue(self.options.sanitize_headers) if self.options.sanitize_headers else None
        self._secret_keys: dict[str, bool] = {}
        self._clients = ClientResolver(parse_networks(self.options.trusted_proxies))
        self._allowed = self.options.content_type_matcher()
        self._request_keys: dict[bytes, str] = {}
        self.response_keys: dict[bytes, str] = {}
        self._modes: dict[tuple[str | None, str | None], int] = {}
        if "django" in sys.modules:
            # Django turns view exceptions into 500 responses itself; its signal is how we see them.
            from .django_hooks import connect_signals

            connect_signals()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not is_http_instrumentation_enabled():
            await self.app(scope, receive, send)
            return
        if self._excluded is not None and self._excluded.url_disabled(_url(scope)):
            await self.app(scope, receive, send)
            return
        failure: Exception | None = None
        try:
            attributes = self._request_attributes(scope)
            parent = context.get_current()
            # As OTel's middleware: a span already current (another middleware's) is the parent;
            # otherwise the incoming `traceparent` (through the global propagator) is.
            if not trace.get_current_span(parent).get_span_context().is_valid:
                parent = extract(attributes, getter=_GETTER)
            if self.sanitizer is not None:
                self.sanitize(attributes)
        except Exception as exc:  # capture must never break the request
            attributes, parent, failure = {}, None, exc
        method = attributes.get(attr.HTTP_REQUEST_METHOD) or "HTTP"
        span = self._tracer.start_span(method, context=parent, kind=SpanKind.SERVER, attributes=attributes)
        token = context.attach(trace.set_span_in_context(span, parent))
        try:
            if not span.is_recording():  # sampled out: nothing to capture, only propagate the context
                await self.app(scope, receive, send)
                return
            exchange = Exchange(self, scope, span, attributes, send)
            if failure is not None:
                exchange.capture_failed(failure)
            if _CONTENT_LENGTH in attributes or _TRANSFER_ENCODING in attributes:
                try:
                    exchange.request_body = self._request_body(attributes)
                    exchange.downstream_receive = receive
                    receive = exchange.receive
                except Exception as exc:
                    exchange.capture_failed(exc)
            exchange_token = current_exchange.set(exchange)
            try:
                await self.app(scope, receive, exchange.send)
            except Exception as exc:
                exchange.record_exception(exc)
                raise
            finally:
                current_exchange.reset(exchange_token)
                exchange.finish()
        finally:
            context.detach(token)

    def _request_attributes(self, scope: Scope) -> dict[str, Any]:
        """Every request attribute, each header decoded once, in the order the SDK should keep."""
        method = scope.get("method") or "HTTP"
        attributes: dict[str, Any] = {
            attr.HTTP_REQUEST_METHOD: method,
            attr.URL_SCHEME: scope.get("scheme") or "http",
            attr.URL_PATH: span_path(scope),
        }
        query = scope.get("query_string")
        if query:
            try:
                attributes[attr.URL_QUERY] = query.decode()
            except UnicodeDecodeError:  # not UTF-8: keep every byte visible rather than fail
                attributes[attr.URL_QUERY] = query.decode("latin-1")
        keys = self._request_keys
        for name, value in scope.get("headers") or ():
            key = keys.get(name)
            if key is None:
                key = _header_key(keys, _REQ, name)
            try:
                text = value.decode()
            except UnicodeDecodeError:
                text = value.decode("latin-1")
            previous = attributes.get(key)
            attributes[key] = (text,) if previous is None else (*previous, text)
        user_agent = attributes.get(_USER_AGENT)
        if user_agent is not None:
            attributes[attr.USER_AGENT_ORIGINAL] = user_agent[0]
        client = scope.get("client")
        peer = client[0] if client else None
        if self._clients.enabled:
            peer = self._clients.resolve(
                peer,
                attributes.get(_FORWARDED_FOR, ()),
                attributes.get(_FORWARDED, ()),
                attributes.get(_REAL_IP, ()),
            )
        if peer is not None:
            attributes[attr.CLIENT_ADDRESS] = peer
        version = scope.get("http_version")
        if version:
            attributes[attr.NETWORK_PROTOCOL_VERSION] = version
        return attributes

    def sanitize(self, attributes: dict[str, Any]) -> None:
        """Replace the values of headers matching `sanitize_headers` with `[REDACTED]`, in place."""
        assert self.sanitizer is not None
        secret = self._secret_keys
        for key, value in attributes.items():
            if not key.startswith(_HEADER_PREFIXES):
                continue
            hidden = secret.get(key)
            if hidden is None:
                name = key[len(_REQ) :] if key.startswith(_REQ) else key[len(attr.RESPONSE_HEADER_PREFIX) :]
                hidden = self.sanitizer.sanitize_header_value(name, "") == _REDACTED
                if len(secret) < _NAME_CACHE_SIZE:
                    secret[key] = hidden
            if hidden:
                attributes[key] = (_REDACTED,) * len(value)

    def _request_body(self, attributes: dict[str, Any]) -> BodyCapture:
        content_type = attributes.get(_CONTENT_TYPE)
        encoding = attributes.get(_CONTENT_ENCODING)
        return self.body_capture(
            content_type[0] if content_type else None,
            encoding[0] if encoding else None,
            capture=self.options.capture_request_body,
        )

    def body_capture(self, content_type: str | None, encoding: str | None, *, capture: bool) -> BodyCapture:
        """A capture for a body with these headers; size and type only when `capture` is off."""
        if not capture:
            return BodyCapture(SIZE, content_type, 0)
        key = (content_type, encoding)
        mode = self._modes.get(key)
        if mode is None:
            mode = choose_mode(
                content_type, encoding, allowed=self._allowed, summarize_multipart=self.options.summarize_multipart
            )
            if len(self._modes) < _NAME_CACHE_SIZE:  # bounded: content types come from clients too
                self._modes[key] = mode
        return BodyCapture(mode, content_type, self.options.max_body_bytes)


def _header_key(cache: dict[bytes, str], prefix: str, name: bytes) -> str:
    key = prefix + name.decode("latin-1").lower()
    if len(cache) < _NAME_CACHE_SIZE:
        cache[name] = key
    return key


def _url(scope: Scope) -> str:
    """`scheme://host/path` as OTel's `excluded_urls` sees it (Host header, else the server)."""
    host = None
    for name, value in scope.get("headers") or ():
        if name == b"host":
            host = value.decode("latin-1")
            break
    if host is None:
        server = scope.get("server") or ("0.0.0.0", 80)
        host = server[0] if str(server[1]) == "80" else f"{server[0]}:{server[1]}"
    return f"{scope.get('scheme', 'http')}://{host}{scope.get('path', '')}"
