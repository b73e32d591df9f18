"""Shared test plumbing: drive an ASGI app over httpx, then turn its one server span into a row."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import httpx
import orjson
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from exporter import RequestLog, span_to_row
from exporter.headers import canonical_name

FIREFOX = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:145.0) Gecko/20100101 Firefox/145.0"


async def request(
    app: Any,
    method: str,
    url: str,
    *,
    client: tuple[str, int] = ("127.0.0.1", 50000),
    **kwargs: Any,
) -> httpx.Response:
    """One request through `app` in-process, as Firefox unless `headers` says otherwise.

    App exceptions become the 500 the server would send.
    """
    kwargs["headers"] = {"User-Agent": FIREFOX, **kwargs.get("headers", {})}
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


def assert_row(row: RequestLog, answer: httpx.Response, /, **expected: Any) -> None:
    """Check every field of `row` against the exchange that produced `answer`.

    `answer` is the response httpx got. The defaults describe a plain anonymous request from
    127.0.0.1 with the Firefox user agent:
    method, path, status and both header sets are taken from what httpx really sent and got, and
    `expected` overrides any field (JSON columns as Python values). Times and ids are checked for
    shape and consistency, since they differ per run.
    """
    values = dataclasses.asdict(row)
    started, finished = values.pop("started_at"), values.pop("finished_at")
    assert started <= finished
    assert abs(values.pop("duration") - (finished - started).total_seconds()) < 1e-6
    assert re.fullmatch(r"[0-9a-f]{32}", values.pop("trace_id") or "")
    assert re.fullmatch(r"[0-9a-f]{16}", values.pop("span_id") or "")
    for name in ("query_params", "body", "response", "request_headers", "response_headers"):
        values[name] = js(values[name])
    sent = answer.request
    want: dict[str, Any] = {
        "id": None,
        "user_id": None,
        "username": None,
        "user_full_name": None,
        "ip": "127.0.0.1",
        "device": "Other",
        "device_type": "pc",
        "is_bot": False,
        "os": "Windows",
        "browser": "Firefox",
        "scheme": "http",
        "endpoint": sent.url.path,
        "method": sent.method,
        "status_code": answer.status_code,
        "exception_type": None,
        "created_at": None,
        "updated_at": None,
        "query_params": {},
        "body": None,
        "response": None,
        "request_headers": {canonical_name(k, request=True): v for k, v in sent.headers.items()},
        "response_headers": {canonical_name(k, request=False): v for k, v in answer.headers.items()} or None,
        "exception_message": None,
        "exception_traceback": None,
        "service_name": "test-service",
        "route": None,
        "request_body_size": int(sent.headers.get("content-length", 0)) or None,
        "response_body_size": len(answer.content),
        "request_body_truncated": False,
        "response_body_truncated": False,
    }
    want.update(expected)
    assert values == want
