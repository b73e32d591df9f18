"""PEP 3333's legacy `write()` callable, which `start_response` returns: every byte reaches the server
in order, and the body the span keeps is what was written followed by what was returned."""

from __future__ import annotations

from typing import Any

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from instrumentation import RequestLogWSGIMiddleware

from .helpers import server_span


def test_written_and_returned_chunks_both_reach_the_server_and_the_span(
    tracer_provider: TracerProvider, span_exporter: InMemorySpanExporter
) -> None:
    def legacy(environ: Any, start_response: Any) -> list[bytes]:
        write = start_response("200 OK", [("Content-Type", "text/plain")])
        write(b"hello, ")
        write(b"old ")
        return [b"world"]

    sent: list[bytes] = []

    def start_response(status: str, headers: Any, exc_info: Any = None) -> Any:
        return sent.append

    app = RequestLogWSGIMiddleware(legacy, tracer_provider=tracer_provider)
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/old", "SERVER_NAME": "t", "SERVER_PORT": "80"}
    environ |= {"wsgi.url_scheme": "http", "SERVER_PROTOCOL": "HTTP/1.1"}
    result = app(environ, start_response)
    sent.extend(result)
    result.close()  # type: ignore[attr-defined]
    assert sent == [b"hello, ", b"old ", b"world"]
    attributes = server_span(span_exporter).attributes or {}
    assert attributes["http.response.body.content"] == "hello, old world"
    assert attributes["http.response.body.size"] == 16
