"""`RequestLogWSGIMiddleware`: the WSGI adapter over `CaptureCore`, one SERVER span per HTTP request.

The same options, span contract and capture rules as the ASGI `RequestLogMiddleware`: both feed one
`CaptureCore` and one `Exchange`; this module only speaks PEP 3333. The incoming trace context is
read with `opentelemetry-instrumentation-wsgi`'s environ getter. Its `collect_request_attributes`
is not used: it switches attribute names with `OTEL_SEMCONV_STABILITY_OPT_IN` and re-parses the
URL, while a request-log span has one fixed contract, built by the core for both protocols.

WSGI ordering, and where the span ends: the app returns an iterable, the server writes each chunk,
then calls `close()` (PEP 3333 requires it, even after an error). The span ends in that `close()`,
with the end time of the last chunk, so the exception of a failing stream is on it. A body the app
never read (an early 401 or 413) is read in `close()` too: the server has already sent the answer,
so the app's response is not delayed and the app received exactly what it read. It is read only up
to what the capture keeps, only when the length is known (`Content-Length`, or a server that marks
`wsgi.input_terminated`), and never when the client waits for `100 Continue`.

Streaming responses pass chunk by chunk; a `wsgi.file_wrapper` response is returned to the server
as it is (so it can still `sendfile`), with its `close()` chained to end the span.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from opentelemetry import context, trace
from opentelemetry.instrumentation.wsgi import wsgi_getter

from . import attributes as attr
from .core import NAME_CACHE_SIZE, REQ, CaptureCore, add_header, http_context, one_value
from .exchange import current_exchange
from .frameworks import connect_loaded
from .options import Options, UserResolver
from .url_path import wsgi_span_path
from .wsgi_exchange import Environ, Input, StartResponse, WsgiExchange, pep3333_text

WSGIApp = Callable[[Environ, StartResponse], Iterable[bytes]]

_CONTENT_KEYS = {"CONTENT_TYPE": REQ + "content-type", "CONTENT_LENGTH": REQ + "content-length"}
_PLAN_CACHE_SIZE = 64
_PLAN_MAX_NAME_CHARS = 4096  # the environ keys of one remembered plan, all together (~300 typical)


class RequestLogWSGIMiddleware(CaptureCore):
    """WSGI middleware recording each HTTP request as one SERVER span for reqlog.

    Wrap the whole app: `application = RequestLogWSGIMiddleware(get_wsgi_application())` for
    Django, `app.wsgi_app = RequestLogWSGIMiddleware(app.wsgi_app)` for Flask. Options as for
    `RequestLogMiddleware`; `user_resolver(environ)` gets the WSGI environ.
    Raises `OptionError` (a `ValueError`) for a bad option, at construction.
    """

    def __init__(
        self,
        app: WSGIApp,
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
        self._request_keys: dict[str, str] = {}  # environ key -> attribute key ("" for not a header)
        self._plans: dict[tuple[str, ...], tuple[tuple[str, str], ...]] = {}  # see `_plan`
        # Django and Flask answer a view's exception with their own 500; their signals carry it
        # (and, for Flask, the URL rule and the user).
        connect_loaded(flask=True)

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        current = http_context()
        if (
            current is None
            or (self._excluded is not None and self.excluded(_url(environ)))
            or (self.methods is not None and environ.get("REQUEST_METHOD") not in self.methods)
        ):
            return self.app(environ, start_response)
        failure: Exception | None = None
        try:
            attributes, headers = self._request_attributes(environ)
            parent = self.parent(environ, wsgi_getter, headers, current)
            if self.sanitizer is not None:
                self.sanitize(headers)
        except Exception as exc:  # capture must never break the request
            attributes, headers, parent, failure = {}, {}, None, exc
        span, token, unwritten = self.start_span(attributes, headers, parent)
        try:
            if not span.is_recording():  # sampled out: nothing to capture, only propagate the context
                return self.app(environ, start_response)
            exchange = WsgiExchange(self, environ, span, attributes, unwritten, start_response)
            if failure is not None:
                exchange.capture_failed(failure)
            try:
                exchange.request_body = self.request_body(headers)
                if exchange.request_body is not None and "wsgi.input" in environ:
                    exchange.raw_input = environ["wsgi.input"]
                    environ["wsgi.input"] = exchange.input = Input(exchange, exchange.raw_input)
            except Exception as exc:
                exchange.capture_failed(exc)
            exchange_token = current_exchange.set(exchange)
            try:
                result = self.app(environ, exchange.start_response)
            except Exception as exc:
                exchange.record_exception(exc)
                exchange.finish()
                raise
            finally:
                current_exchange.reset(exchange_token)
            return exchange.wrap(result)
        finally:
            context.detach(token)

    def _request_attributes(self, environ: Environ) -> tuple[dict[str, Any], dict[str, Any]]:
        """The same attributes and headers, in the same order, as the ASGI side builds from a scope."""
        path = wsgi_span_path(environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", ""))
        attributes: dict[str, Any] = {
            attr.HTTP_REQUEST_METHOD: environ.get("REQUEST_METHOD") or "HTTP",
            attr.URL_SCHEME: environ.get("wsgi.url_scheme") or "http",
            attr.URL_PATH: path or "/",
        }
        query = environ.get("QUERY_STRING")
        if query:
            attributes[attr.URL_QUERY] = query if query.isascii() else pep3333_text(query)
        names = tuple(environ)
        plan = self._plans.get(names)
        if plan is None:
            plan = self._plan(names)
        tuples = self.value_tuples
        headers: dict[str, Any] = {}
        for name, key in plan:
            value = environ[name]
            if not isinstance(value, str) or (not value and name.startswith("CONTENT_")):
                continue
            if not value.isascii():
                value = pep3333_text(value)
            if key in headers:  # two environ keys for one header name: keep both values
                add_header(headers, key, value)
            else:
                headers[key] = tuples.get(value) or one_value(tuples, value)
        protocol = environ.get("SERVER_PROTOCOL") or ""
        peer, version = environ.get("REMOTE_ADDR") or None, protocol.partition("/")[2] or None
        self.client_and_version(attributes, headers, peer, version)
        return attributes, headers

    def _plan(self, names: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
        """The header keys among an environ's keys, in order, with their attribute keys.

        Clients send the same set of headers request after request, so the plan is remembered per
        set of environ keys: the ~20 keys of a request are then looked up once, as one tuple, and
        the ~10 that are not headers are not visited. Bounded: at most `_PLAN_CACHE_SIZE` sets of at
        most `_PLAN_MAX_NAME_CHARS` characters (a hostile client varying its headers only misses).
        """
        get_key = self._request_keys.get
        plan = []
        for name in names:
            key = get_key(name)
            if key is None:
                key = self._request_key(name)
            if key:
                plan.append((name, key))
        frozen = tuple(plan)
        if sum(map(len, names)) <= _PLAN_MAX_NAME_CHARS:
            if len(self._plans) >= _PLAN_CACHE_SIZE:
                self._plans.clear()
            self._plans[names] = frozen
        return frozen

    def _request_key(self, name: str) -> str:
        """The header attribute key of an environ key ("" for none), remembered in a bounded cache."""
        key = REQ + name[5:].lower().replace("_", "-") if name.startswith("HTTP_") else _CONTENT_KEYS.get(name, "")
        if len(self._request_keys) < NAME_CACHE_SIZE:
            self._request_keys[name] = key
        return key


def _url(environ: Environ) -> str:
    """`scheme://host/path` as OTel's `excluded_urls` sees it (Host header, else the server)."""
    host = environ.get("HTTP_HOST")
    if not host:
        name, port = environ.get("SERVER_NAME", "0.0.0.0"), str(environ.get("SERVER_PORT", "80"))
        host = name if port == "80" else f"{name}:{port}"
    path = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
    return f"{environ.get('wsgi.url_scheme', 'http')}://{host}{path}"
