"""One WSGI exchange: `start_response`, `wsgi.input` and the response iterable, wrapped for capture.

`WsgiExchange` is the WSGI side of `exchange.Exchange`; `Body` and `Input` are the two streams it
wraps. Each passes every chunk through unchanged and feeds it to the exchange's capture. While a
streaming response produces each chunk, the request's span (and exchange) is current, so a
generator's `set_user` or child spans land on the request.

A response that runs no code of the app while it is iterated (a list, Django's non-streaming
`HttpResponse`) holds all its chunks already: they are captured when the app returns, and the
exchange itself is handed to the server as the response: iterating it is iterating the list of
chunks, so the server makes no Python call per chunk and no `StopIteration` is raised through the
middleware (on a Django request, that per-chunk path was about a twentieth of what reqlog added;
docs/instrumentation.md, "Cost"). The server's `close()` (PEP 3333 servers call it after the last
byte, even after an error) is where the span ends: the exchange's own for a made response, the
wrapper's for any other, both through `WsgiExchange.done()`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from opentelemetry import context, trace

from . import attributes as attr
from .capture import may_read_unread
from .core import NAME_CACHE_SIZE, CaptureCore, one_value
from .exchange import Exchange, current_exchange

Environ = dict[str, Any]
StartResponse = Callable[..., Callable[[bytes], object]]

_RESP = attr.RESPONSE_HEADER_PREFIX
_DRAIN_CHUNK = 64 * 1024


class WsgiExchange(Exchange):
    """The WSGI side of one exchange: wraps `start_response`, `wsgi.input` and the response iterable."""

    __slots__ = ("_start_response", "_write", "raw_input", "input", "_result", "_chunks")

    def __init__(
        self,
        middleware: CaptureCore,
        environ: Environ,
        span: Any,
        attributes: dict[str, Any],
        unwritten: tuple[dict[str, Any], ...],
        start_response: StartResponse,
    ) -> None:
        Exchange.__init__(self, middleware, environ, span, attributes, unwritten)  # per request: no `super` object
        self._start_response = start_response
        self._write: Any = None  # the server's `write`, once the response has started
        self.raw_input: Any = None
        self.input: Input | None = None  # the wrapper put in `wsgi.input`
        self._result: Iterable[bytes] = ()  # a made response: the app's iterable, and its chunks
        self._chunks: list[bytes] = []

    def start_response(self, status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        try:
            # The header attributes, in one pass; the keys of the names seen before come from a
            # bounded cache. Written out here, its one caller, rather than in a helper: each Python
            # function a request runs is one more cold code object to fetch between the app's work.
            get_key = self._middleware.response_keys.get
            tuples = self._middleware.value_tuples
            out: dict[str, Any] = {}
            for name, value in headers:
                key = get_key(name) or self._response_key(name)
                if not value.isascii():
                    value = pep3333_text(value)
                previous = out.get(key)  # a repeated header keeps every value, in order
                out[key] = (tuples.get(value) or one_value(tuples, value)) if previous is None else (*previous, value)
            self.response_started(int(status.split(None, 1)[0]), out)
        except Exception as exc:
            self.capture_failed(exc)
        self._write = self._start_response(status, headers, exc_info)
        return self.write

    def write(self, data: bytes) -> object:
        """PEP 3333's legacy `write()` callable: the server's, with the chunk captured."""
        self.response_chunk(data)
        return self._write(data)

    def _response_key(self, name: str) -> str:
        keys = self._middleware.response_keys
        key = _RESP + name.lower()
        if len(keys) < NAME_CACHE_SIZE:
            keys[name] = key
        return key

    def wrap(self, result: Iterable[bytes]) -> Iterable[bytes]:
        file_wrapper = self.carrier.get("wsgi.file_wrapper")
        if isinstance(file_wrapper, type) and isinstance(result, file_wrapper):
            original = getattr(result, "close", None)

            def close() -> None:
                try:
                    if original is not None:
                        original()
                finally:
                    self.done()

            try:
                result.close = close  # type: ignore[attr-defined]
                return result  # the server's own object: it may still sendfile
            except (AttributeError, TypeError):
                pass  # a wrapper with slots: pass it through our iterator instead
        if type(result) in (list, tuple) or getattr(result, "streaming", None) is False:
            # A made response: its chunks are captured now, and the server iterates this exchange
            # (`__iter__`, the list of chunks) and calls its `close()`.
            try:
                chunks = result if type(result) is list else list(result)
            except Exception as exc:  # the server never gets an iterable to close: end the span here
                self.record_exception(exc)
                try:
                    _close(result)
                finally:
                    self.done()
                raise
            for chunk in chunks:
                self.response_chunk(chunk)
            self._result = result
            self._chunks = chunks
            return self
        return Body(self, result)

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._chunks)

    def close(self) -> None:
        """The server is done with a made response: its last chunk is written, the span's end time."""
        self.response_ended()
        try:
            _close(self._result)
        finally:
            self.done()

    def done(self) -> None:
        """The server is done with the response: read what the app left unread, then end the span."""
        try:
            if (
                self.raw_input is not None
                and self.unread_wanted() > 0
                and may_read_unread(self.carrier.get("HTTP_EXPECT"))
            ):
                self._drain()
        except Exception as exc:
            self.capture_failed(exc)
        self.finish()
        if self.input is not None:
            # The environ keeps the wrapper, and frameworks keep the environ in reference cycles
            # (Django's request does) that only the cyclic GC frees: cut the wrapper's link, so
            # this exchange, its span and its captures are freed now rather than by the GC. From
            # now on, reads pass through without capture.
            self.input.exchange = None

    def _drain(self) -> None:
        body = self.request_body
        assert body is not None
        if body.declared is None and not self.carrier.get("wsgi.input_terminated"):
            return  # no length and no end marker: reading could block until the client gives up
        while (wanted := self.unread_wanted()) > 0:
            if body.declared is not None:
                wanted = min(wanted, body.declared - body.size)
            data = self.raw_input.read(min(wanted, _DRAIN_CHUNK))
            if not data:
                self.request_ended()
                return
            self.request_chunk(data)


class Body:
    """The app's response iterable, chunk by chunk, with the span current while each is made."""

    __slots__ = ("_exchange", "_result", "_iterator")

    def __init__(self, exchange: WsgiExchange, result: Iterable[bytes]) -> None:
        self._exchange = exchange
        self._result = result
        self._iterator: Iterator[bytes] | None = None

    def __iter__(self) -> Body:
        return self

    def __next__(self) -> bytes:
        exchange = self._exchange
        token = context.attach(trace.set_span_in_context(exchange.span))
        exchange_token = current_exchange.set(exchange)
        try:
            if self._iterator is None:
                self._iterator = iter(self._result)
            chunk = next(self._iterator)
        except StopIteration:
            exchange.response_ended()
            raise
        except Exception as exc:
            exchange.record_exception(exc)
            raise
        finally:
            current_exchange.reset(exchange_token)
            context.detach(token)
        exchange.response_chunk(chunk)
        return chunk

    def close(self) -> None:
        try:
            _close(self._result)
        finally:
            self._exchange.done()


class Input:
    """`wsgi.input` as the app reads it: every byte it gets is fed to the request body capture."""

    __slots__ = ("exchange", "_raw")

    def __init__(self, exchange: WsgiExchange, raw: Any) -> None:
        self.exchange: WsgiExchange | None = exchange  # `None` once the exchange has ended
        self._raw = raw

    def _got(self, data: bytes, asked: int | None) -> bytes:
        exchange = self.exchange
        if exchange is None:
            return data
        if data:
            exchange.request_chunk(data)  # the capture ends itself once the declared length is met
        elif asked != 0:
            exchange.request_ended()  # the input said it has no more
        return data

    def read(self, size: int | None = None, /) -> bytes:
        data = self._raw.read() if size is None or size < 0 else self._raw.read(size)
        return self._got(data, size)

    def readline(self, size: int | None = None, /) -> bytes:
        data = self._raw.readline() if size is None or size < 0 else self._raw.readline(size)
        return self._got(data, size)

    def readinto(self, buffer: bytearray | memoryview, /) -> int:
        """Not PEP 3333, but werkzeug (Flask) reads this way when the server's input offers it."""
        readinto = getattr(self._raw, "readinto", None)
        if readinto is None:
            data = self._raw.read(len(buffer))
            buffer[: len(data)] = data
            count = len(data)
        else:
            count = readinto(buffer) or 0
        self._got(bytes(memoryview(buffer)[:count]), len(buffer))
        return count

    def readlines(self, hint: int | None = None, /) -> list[bytes]:
        lines: list[bytes] = self._raw.readlines() if hint is None else self._raw.readlines(hint)
        for line in lines:
            self._got(line, None)
        return lines

    def __iter__(self) -> Iterator[bytes]:
        while line := self.readline():
            yield line

    def __getattr__(self, name: str) -> Any:  # anything else a server's input offers
        return getattr(self._raw, name)


def _close(result: Iterable[bytes]) -> None:
    """The app's iterable's own `close()`, which PEP 3333 servers must call."""
    close = getattr(result, "close", None)
    if close is not None:
        close()


def pep3333_text(value: str) -> str:
    """PEP 3333 strings hold the raw bytes as latin-1: decode them as UTF-8 (as the ASGI side does)."""
    if value.isascii():
        return value
    try:
        return value.encode("latin-1").decode()
    except (UnicodeEncodeError, UnicodeDecodeError):  # not latin-1 bytes, or not UTF-8: keep as is
        return value
