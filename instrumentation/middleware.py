"""`RequestLogMiddleware`: the ASGI adapter over `CaptureCore`, one SERVER span per HTTP request.

Why not `OpenTelemetryMiddleware` itself: docs/design-notes.md has it at ~600 us per request, most of it
its own Python (headers re-decoded on every lookup, the URL rebuilt and parsed, attributes set one
by one and twice, two INTERNAL spans per send). This middleware builds on the same pieces, the SDK
tracer, the global propagator, `opentelemetry.util.http`'s `ExcludeList` and `SanitizeValue` (what
the ASGI instrumentation uses for `excluded_urls` and header sanitising) and the
instrumentation-suppression switch, but decodes each header once and writes the request's and the
response's attributes in one write each (under the SDK's own samplers, all of them in one write
when the span ends: `core.py`).

ASGI ordering, and why the span ends when the app returns rather than with the last body chunk:
Starlette and FastAPI (ServerErrorMiddleware) send their 500 response *before* re-raising the
exception. Stock OTel ends the span on the final `http.response.body`, so when it wraps such an app
from outside the exception arrives after the span has ended and is lost. Here the final body only
stamps the end time; the span ends in `finally`, after the exception has been recorded, with that
end time, so the duration still excludes background tasks run after the response.

A body the app never read (an early 401 or 413): ASGI servers drop the rest of the request body
once the response is complete (uvicorn answers `receive()` with `http.disconnect` from then on), so
it is read between the app's last `send` and forwarding that last message, up to what the capture
keeps and for at most `UNREAD_BODY_WAIT` seconds. The messages read are replayed, in order, to any
later `receive()` of the app, so it still receives exactly what the server sent.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from opentelemetry import context, trace
from opentelemetry.propagators.textmap import Getter

from . import attributes as attr
from . import lifecycle
from .capture import may_read_unread
from .core import EXPECT, NAME_CACHE_SIZE, REQ, CaptureCore, add_header, http_context
from .exchange import Exchange, current_exchange
from .frameworks import connect_loaded
from .options import Options, UserResolver
from .url_path import span_path

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_RESP = attr.RESPONSE_HEADER_PREFIX
# How long the answer may wait for the rest of a body the app never read (a stalled client).
UNREAD_BODY_WAIT = 0.5


class _HeaderGetter(Getter[dict[str, Any]]):
    """Propagator getter over the already-decoded request header attributes (no second decode)."""

    def get(self, carrier: dict[str, Any], key: str) -> list[str] | None:
        value = carrier.get(REQ + key.lower())
        return list(value) if value is not None else None

    def keys(self, carrier: dict[str, Any]) -> list[str]:
        return [key[len(REQ) :] for key in carrier if key.startswith(REQ)]


_GETTER = _HeaderGetter()


class RequestLogMiddleware(CaptureCore):
    """ASGI middleware recording each HTTP request as one SERVER span for reqlog.

    Install it around a whole app (`app = RequestLogMiddleware(app)`), as Starlette/FastAPI
    middleware (`app.add_middleware(RequestLogMiddleware, **options)`) or around Django's
    `get_asgi_application()`. Websocket scopes pass through untouched; lifespan passes through too,
    but the span queue is flushed at its shutdown (`lifecycle`).

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
        super().__init__(
            tracer_provider=tracer_provider, user_resolver=user_resolver, options=options, option_values=option_values
        )
        self.app = app
        self._provider = tracer_provider  # flushed at lifespan shutdown (the global one otherwise)
        self._request_keys: dict[bytes, str] = {}
        connect_loaded(flask=False)  # Django's ASGI handler reports view exceptions only by signal

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":  # flush the span queue when the server stops (lifecycle.py)
            provider = self._provider if self._provider is not None else trace.get_tracer_provider()
            await lifecycle.lifespan(self.app, scope, receive, send, provider)
            return
        current = http_context() if scope["type"] == "http" else None
        if current is None:
            await self.app(scope, receive, send)
            return
        if (self._excluded is not None and self.excluded(_url(scope))) or (
            self.methods is not None and scope.get("method") not in self.methods
        ):
            await self.app(scope, receive, send)
            return
        failure: Exception | None = None
        try:
            attributes, headers = self._request_attributes(scope)
            parent = self.parent(headers, _GETTER, headers, current)
            if self.sanitizer is not None:
                self.sanitize(headers)
        except Exception as exc:  # capture must never break the request
            attributes, headers, parent, failure = {}, {}, None, exc
        span, token, unwritten = self.start_span(attributes, headers, parent)
        try:
            if not span.is_recording():  # sampled out: nothing to capture, only propagate the context
                await self.app(scope, receive, send)
                return
            exchange = _AsgiExchange(self, scope, span, attributes, unwritten, send, receive)
            if failure is not None:
                exchange.capture_failed(failure)
            try:
                exchange.request_body = self.request_body(headers)
                expect = headers.get(EXPECT)
                exchange.may_drain = may_read_unread(expect[0] if expect else None)
            except Exception as exc:
                exchange.capture_failed(exc)
            exchange_token = current_exchange.set(exchange)
            try:
                await self.app(scope, exchange.receive, exchange.send)
            except Exception as exc:
                exchange.record_exception(exc)
                raise
            finally:
                current_exchange.reset(exchange_token)
                exchange.finish()
        finally:
            context.detach(token)

    def _request_attributes(self, scope: Scope) -> tuple[dict[str, Any], dict[str, Any]]:
        """The request's own attributes and its header attributes, each header decoded once."""
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
        headers: dict[str, Any] = {}
        for name, value in scope.get("headers") or ():
            key = keys.get(name)
            if key is None:
                key = _header_key(keys, REQ, name)
            add_header(headers, key, _text(value))
        client = scope.get("client")
        self.client_and_version(attributes, headers, client[0] if client else None, scope.get("http_version"))
        return attributes, headers


class _AsgiExchange(Exchange):
    """The ASGI side of one exchange: wraps the app's `receive` and `send`."""

    __slots__ = ("_send", "_receive", "_replay", "_receiving", "may_drain")

    def __init__(
        self,
        middleware: RequestLogMiddleware,
        scope: Scope,
        span: Any,
        attributes: dict[str, Any],
        unwritten: tuple[dict[str, Any], ...],
        send: Send,
        receive: Receive,
    ) -> None:
        Exchange.__init__(self, middleware, scope, span, attributes, unwritten)  # per request: no `super` object
        self._send = send
        self._receive = receive
        self._replay: deque[Message] = deque()
        self._receiving = False
        self.may_drain = True

    async def receive(self) -> Message:
        if self._replay:
            return self._replay.popleft()  # read by the drain: already captured
        self._receiving = True
        try:
            message = await self._receive()
        finally:
            self._receiving = False
        self._note_request(message)
        return message

    def _note_request(self, message: Message) -> None:
        if message["type"] == "http.request":
            self.request_chunk(message.get("body", b""))
            if not message.get("more_body", False):
                self.request_ended()
        else:  # http.disconnect: nothing more will come
            self.request_ended()

    async def send(self, message: Message) -> None:
        try:
            kind = message["type"]
            if kind == "http.response.body":
                self.response_chunk(message.get("body", b""))
                if not message.get("more_body", False):
                    self.response_ended()
                    if self.may_drain and not self._receiving and self.unread_wanted() > 0:
                        await self._drain()
            elif kind == "http.response.start":
                self.response_started(int(message["status"]), self._response_headers(message))
        except Exception as exc:
            self.response_body = None
            self.capture_failed(exc)
        await self._send(message)

    async def _drain(self) -> None:
        """Read what is worth keeping of a body the app left unread, keeping it for the app's replay."""
        try:
            async with asyncio.timeout(UNREAD_BODY_WAIT):
                while self.unread_wanted() > 0:
                    message = await self._receive()
                    self._replay.append(message)
                    self._note_request(message)
        except TimeoutError:
            pass  # a stalled client: keep what came, answer now

    def _response_headers(self, message: Message) -> dict[str, Any]:
        keys = self._middleware.response_keys
        out: dict[str, Any] = {}
        for name, value in message.get("headers") or ():
            key = keys.get(name)
            if key is None:
                key = _header_key(keys, _RESP, name)
            add_header(out, key, _text(value))
        return out

    def fallback_route(self) -> str | None:
        """Starlette and FastAPI leave the matched route in `scope["route"]`; mounts add `root_path`."""
        scope = self.carrier
        route = scope.get("route")
        if route is None:
            return None
        path_format = getattr(route, "path_format", None)
        if not isinstance(path_format, str):
            return None
        return f"{scope.get('root_path', '')}{path_format}"


def _text(value: bytes) -> str:
    try:
        return value.decode()
    except UnicodeDecodeError:  # not UTF-8: keep every byte visible rather than fail
        return value.decode("latin-1")


def _header_key(cache: dict[Any, str], prefix: str, name: bytes) -> str:
    key = prefix + name.decode("latin-1").lower()
    if len(cache) < NAME_CACHE_SIZE:
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
