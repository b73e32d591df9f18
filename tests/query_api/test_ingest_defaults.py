"""The defaults fit together: the stock OpenTelemetry SDK's batches reach a live service whole.

A stock `OTLPSpanExporter` behind a `BatchSpanProcessor` at its defaults sends 512 spans a request.
With the instrumentation's bodies (up to 64 KiB each, request and response) that is ~65 MiB, four
times the old 16 MiB cap: the service answered 413, which no stock exporter retries, and the batch
was dropped. The cap is now 128 MiB, and an in-flight byte budget answers 503 + Retry-After when
too many big requests arrive at once; the stock exporter retries that and gets through.
"""

from __future__ import annotations

import asyncio
import io
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from aiohttp import ClientSession
from aiohttp.test_utils import TestServer
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from instrumentation import attributes as attr
from query_api import ServiceSettings, create_app
from query_api.keys import INGEST_KEY, STORE_KEY

from ..otlp_payloads import pb_request, pb_span, to_otlp_json
from .harness import Tokens, make_accounts

KIB = 1024


@pytest.fixture
async def live(db_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[tuple[TestServer, Tokens]]:
    overrides = getattr(request, "param", {})
    settings = ServiceSettings.from_env({}, db=db_path, port=0, **overrides)
    tokens = make_accounts(settings.accounts_path)
    server = TestServer(create_app(settings), host="127.0.0.1")
    await server.start_server()
    try:
        yield server, tokens
    finally:
        await server.close()


def _provider(server: TestServer, token: str) -> tuple[TracerProvider, OTLPSpanExporter]:
    # The stock exporter with its defaults, but for the time it waits: its 10 s cover sending ~64 MiB and
    # the service's decode and commit, which a test machine shared with other jobs can take longer than.
    exporter = OTLPSpanExporter(
        endpoint=str(server.make_url("/v1/traces")), headers={"Authorization": f"Token {token}"}, timeout=60
    )
    provider = TracerProvider(resource=Resource.create({"service.name": "shop"}))
    return provider, exporter


def _request_spans(provider: TracerProvider, count: int, request_body: int, response_body: int) -> None:
    tracer = provider.get_tracer("test")
    for k in range(count):
        with tracer.start_as_current_span("POST /upload", kind=SpanKind.SERVER) as span:
            span.set_attributes(
                {
                    "http.request.method": "POST",
                    "url.path": f"/upload/{k}",
                    "http.response.status_code": 200,
                    attr.REQUEST_BODY_CONTENT: f"{k:08d}".ljust(request_body, "q"),
                    attr.REQUEST_BODY_CONTENT_TYPE: "text/plain",
                    attr.RESPONSE_BODY_CONTENT: f"{k:08d}".ljust(response_body, "r"),
                    attr.RESPONSE_BODY_CONTENT_TYPE: "text/plain",
                }
            )


async def test_a_stock_sdk_batch_of_512_big_spans_arrives_whole(live: tuple[TestServer, Tokens]) -> None:
    server, tokens = live
    provider, exporter = _provider(server, tokens.ingest_only)
    provider.add_span_processor(BatchSpanProcessor(exporter))  # every default: batches of 512
    # 64 KiB request bodies and 63 KiB responses: the most the Python exporter itself sends at its own
    # default `max_request_size` of 64 MiB (two full 64 KiB bodies a span would be just over it).
    _request_spans(provider, 512, 64 * KIB, 63 * KIB)
    assert await asyncio.to_thread(provider.force_flush)
    await asyncio.to_thread(provider.shutdown)
    ingest = server.app[INGEST_KEY]
    assert ingest.stats.requests == 1 and ingest.stats.too_large == 0
    assert ingest.stats.rows == 512
    store = server.app[STORE_KEY]
    assert store.count() == 512
    lengths = store.cursor().execute("SELECT min(length(response)), count(DISTINCT endpoint) FROM request_logs")
    assert lengths.fetchall() == [(63 * KIB + 2, 512)]  # a text body is stored as a JSON string


async def test_512_spans_with_two_full_bodies_fit_in_otlp_json(live: tuple[TestServer, Tokens]) -> None:
    # What an SDK without the Python exporter's own 64 MiB cap (the JavaScript one) sends: ~66 MiB of
    # protobuf, more as OTLP/JSON. Under the old cap this was a 413.
    server, tokens = live
    spans = [
        pb_span(
            {
                "http.request.method": "POST",
                "url.path": f"/upload/{k}",
                "http.response.status_code": 200,
                attr.REQUEST_BODY_CONTENT: "q" * (64 * KIB),
                attr.RESPONSE_BODY_CONTENT: "r" * (64 * KIB),
            },
            span_id=k.to_bytes(8, "big"),
        )
        for k in range(1, 513)
    ]
    body = to_otlp_json(pb_request(spans))
    del spans
    assert len(body) > 64 * KIB * KIB
    async with ClientSession() as session:
        response = await session.post(
            server.make_url("/v1/traces"),
            data=io.BytesIO(body),
            headers={"Content-Type": "application/json", "Authorization": f"Token {tokens.ingest_only}"},
        )
        assert response.status == 200, await response.text()
    assert server.app[STORE_KEY].count() == 512


@pytest.mark.parametrize("live", [{"ingest_max_bytes": 1024 * KIB, "ingest_inflight_bytes": 1024 * KIB}], indirect=True)
async def test_past_the_in_flight_budget_503_then_the_stock_exporter_retries(
    live: tuple[TestServer, Tokens], monkeypatch: pytest.MonkeyPatch
) -> None:
    server, tokens = live
    store = server.app[STORE_KEY]
    ingest = server.app[INGEST_KEY]
    entered, opened = threading.Event(), threading.Event()
    real = store.insert_table

    def gated(table: pa.Table, **kwargs: Any) -> tuple[int, list[tuple[Any, ...]]]:
        entered.set()
        assert opened.wait(30)
        return real(table, **kwargs)

    monkeypatch.setattr(store, "insert_table", gated)
    # A first request of ~600 KB holds its bytes while the writer is held.
    first_body = pb_request(
        [pb_span({"http.request.method": "GET", "url.path": "/first", attr.REQUEST_BODY_CONTENT: "a" * 600_000})]
    ).SerializeToString()
    async with ClientSession() as session:
        first = asyncio.ensure_future(
            session.post(
                server.make_url("/v1/traces"),
                data=first_body,
                headers={"Content-Type": "application/x-protobuf", "Authorization": f"Token {tokens.ingest_only}"},
            )
        )
        assert await asyncio.to_thread(entered.wait, 30)
        # The stock exporter's ~600 KB batch would pass the 1 MiB budget: 503 + Retry-After.
        provider, exporter = _provider(server, tokens.ingest_only)
        memory = InMemorySpanExporter()
        provider.add_span_processor(SimpleSpanProcessor(memory))
        _request_spans(provider, 1, 600_000, 10)
        export = asyncio.ensure_future(asyncio.to_thread(exporter.export, memory.get_finished_spans()))
        for _ in range(1000):
            if ingest.stats.over_budget:
                break
            await asyncio.sleep(0.01)
        assert ingest.stats.over_budget == 1
        assert not export.done()  # the exporter waits out Retry-After and tries again
        opened.set()
        assert (await first).status == 200
        assert await export == SpanExportResult.SUCCESS
    assert store.count() == 2
    assert ingest.budget.used == 0
