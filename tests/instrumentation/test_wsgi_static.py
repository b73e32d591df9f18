"""Responses whose chunks are all made when the app returns (a list, Django's `HttpResponse`): the
middleware captures them at once and hands the server a plain list to iterate; the span still ends
in `close()`, after the server wrote the last chunk, and the app's own `close()` is still called.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from instrumentation import RequestLogWSGIMiddleware
from instrumentation import attributes as attr
from instrumentation.capture import BodyCapture

from .helpers import js, row_of, server_span
from .wsgi_helpers import call


class _Made:
    """A response like Django's `HttpResponse`: `streaming` False, its chunks made already."""

    streaming = False

    def __init__(self, chunks: list[bytes], *, fail: bool = False) -> None:
        self.chunks = chunks
        self.fail = fail
        self.closed = 0

    def __iter__(self) -> Iterator[bytes]:
        if self.fail:
            raise RuntimeError("container gone")
        return iter(self.chunks)

    def close(self) -> None:
        self.closed += 1


def _app(result: Any) -> Any:
    def app(environ: Any, start_response: Any) -> Any:
        start_response("200 OK", [("Content-Type", "application/json")])
        return result

    return app


def _environ() -> dict[str, Any]:
    return {"REQUEST_METHOD": "GET", "PATH_INFO": "/made", "SERVER_PROTOCOL": "HTTP/1.1", "wsgi.url_scheme": "http"}


@pytest.mark.parametrize("result", [[b'{"a": ', b"1}"], (b'{"a": ', b"1}"), _Made([b'{"a": ', b"1}"])])
def test_made_response_is_handed_over_whole_and_ends_at_close(
    result: Any, tracer_provider: TracerProvider, span_exporter: InMemorySpanExporter
) -> None:
    app = RequestLogWSGIMiddleware(_app(result), tracer_provider=tracer_provider)
    handed = app(_environ(), lambda status, headers, exc_info=None: None)
    assert type(iter(handed)) is type(iter([]))  # the server iterates a plain list
    assert b"".join(handed) == b'{"a": 1}'
    assert span_exporter.get_finished_spans() == ()  # the server has not closed it yet
    handed.close()  # type: ignore[attr-defined]
    row = row_of(span_exporter)
    assert (js(row.response), row.response_body_size) == ({"a": 1}, 8)
    if isinstance(result, _Made):
        assert result.closed == 1


def test_made_response_through_a_server(tracer_provider: TracerProvider, span_exporter: InMemorySpanExporter) -> None:
    made = _Made([b"[1, ", b"2]"])
    answer = call(RequestLogWSGIMiddleware(_app(made), tracer_provider=tracer_provider), "GET", "/made")
    assert answer.chunks == [b"[1, ", b"2]"] and made.closed == 1
    assert js(row_of(span_exporter).response) == [1, 2]


def test_made_response_that_fails_to_iterate_is_recorded_closed_and_raised(
    tracer_provider: TracerProvider, span_exporter: InMemorySpanExporter
) -> None:
    made = _Made([], fail=True)
    app = RequestLogWSGIMiddleware(_app(made), tracer_provider=tracer_provider)
    with pytest.raises(RuntimeError, match="container gone"):
        app(_environ(), lambda status, headers, exc_info=None: None)
    row = row_of(span_exporter)  # no iterable reached the server, so the span ended here
    assert (row.status_code, row.exception_type, row.exception_message) == (200, "RuntimeError", "container gone")
    assert made.closed == 1


def test_request_body_capture_failure_costs_only_the_capture(
    tracer_provider: TracerProvider, span_exporter: InMemorySpanExporter, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bug in the request body's capture (here: `feed` raising) is left on the span as a capture
    error; the app still reads every byte, and the rest of the row is kept."""

    def echo(environ: Any, start_response: Any) -> list[bytes]:
        data = environ["wsgi.input"].read(int(environ["CONTENT_LENGTH"]))
        start_response("201 Created", [("Content-Type", "text/plain")])
        return [data]

    app = RequestLogWSGIMiddleware(echo, tracer_provider=tracer_provider)
    original = BodyCapture.feed

    def feed(self: BodyCapture, data: bytes) -> None:
        if self.declared is not None:  # the request's (its length was declared); not the response's
            raise ValueError("capture bug")
        original(self, data)

    monkeypatch.setattr(BodyCapture, "feed", feed)
    answer = call(app, "POST", "/echo", data=b"hello", headers={"Content-Type": "text/plain"})
    assert answer.body == b"hello"
    [event] = server_span(span_exporter).events
    assert event.name == attr.CAPTURE_ERROR_EVENT and event.attributes[attr.EXCEPTION_MESSAGE] == "capture bug"
    row = row_of(span_exporter)
    assert (row.status_code, row.body, js(row.response)) == (201, None, "hello")
