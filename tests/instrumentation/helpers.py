"""Shared test plumbing: drive an ASGI app over httpx, then turn its one server span into a row."""

from __future__ import annotations

from typing import Any

import httpx
import orjson
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from exporter import RequestLog, span_to_row

FIREFOX = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:145.0) Gecko/20100101 Firefox/145.0"


async def request(
    app: Any,
    method: str,
    url: str,
    *,
    client: tuple[str, int] = ("127.0.0.1", 50000),
    **kwargs: Any,
) -> httpx.Response:
    """One request through `app` in-process; app exceptions become the 500 the server would send."""
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False, client=client)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        return await http.request(method, url, **kwargs)


def server_span(span_exporter: InMemorySpanExporter) -> ReadableSpan:
    """The single SERVER span finished so far (fails if there is not exactly one)."""
    spans = [s for s in span_exporter.get_finished_spans() if s.kind is SpanKind.SERVER]
    assert len(spans) == 1, [s.name for s in span_exporter.get_finished_spans()]
    return spans[0]


def row_of(span_exporter: InMemorySpanExporter) -> RequestLog:
    row = span_to_row(server_span(span_exporter))
    assert row is not None
    return row


def js(text: str | None) -> Any:
    """A JSON column's value (JSON text) as Python."""
    return None if text is None else orjson.loads(text)
