"""The two streams `RequestLogWSGIMiddleware` wraps: the response iterable and `wsgi.input`.

Each passes every chunk through unchanged and feeds it to the exchange's capture. The response
iterable makes the request's span (and exchange) current while the app produces each chunk, so a
streaming generator's `set_user` or child spans land on the request; its `close()` is where the
span ends (PEP 3333 servers call it after the last byte, even after an error).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from opentelemetry import context, trace

from .user import current_exchange

if TYPE_CHECKING:
    from .wsgi import _WsgiExchange


class Body:
    """The app's response iterable, chunk by chunk, with the span current while each is made."""

    __slots__ = ("_exchange", "_result", "_iterator")

    def __init__(self, exchange: _WsgiExchange, result: Iterable[bytes]) -> None:
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
            close = getattr(self._result, "close", None)
            if close is not None:
                close()
        finally:
            self._exchange.close()


class Input:
    """`wsgi.input` as the app reads it: every byte it gets is fed to the request body capture."""

    __slots__ = ("_exchange", "_raw")

    def __init__(self, exchange: _WsgiExchange, raw: Any) -> None:
        self._exchange = exchange
        self._raw = raw

    def _got(self, data: bytes, asked: int | None) -> bytes:
        exchange = self._exchange
        if data:
            exchange.request_chunk(data)
            body = exchange.request_body
            if body is not None and body.declared is not None and body.size >= body.declared:
                exchange.request_ended()
        elif asked != 0:
            exchange.request_ended()
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
