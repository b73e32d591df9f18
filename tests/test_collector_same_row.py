"""One flattening path: the same SDK spans, exported in-process by `DuckDBSpanExporter` and over
OTLP/HTTP by the stock `OTLPSpanExporter` to the reqlog service, make the same rows.

The spans come from a real Starlette app behind `RequestLogMiddleware` (JSON and form bodies, a
user, headers with secrets, query strings, an exception), so every column the instrumentation
fills is compared, except the three the store assigns on insert.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route

from exporter import DuckDBSpanExporter, RequestLog
from exporter.row import COLUMN_NAMES
from exporter.schema import TABLE
from exporter.store import RequestLogStore
from instrumentation import RequestLogMiddleware, set_user
from query_api import ServiceSettings, create_app
from query_api.keys import INGEST_KEY, STORE_KEY
from tests.query_api.harness import auth, make_accounts

IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/18.1 Mobile/15E148 Safari/604.1"
)
INSERTION_COLUMNS = {"id", "created_at", "updated_at"}


async def create_order(request: Request) -> JSONResponse:
    payload = await request.json()
    set_user(7, "ada", "Ada Lovelace")
    return JSONResponse({"order": request.path_params["shop"], "items": payload["items"]}, status_code=201)


async def login(request: Request) -> PlainTextResponse:
    form = await request.form()
    return PlainTextResponse(f"hello {form['username']}")


async def broken(request: Request) -> JSONResponse:
    raise RuntimeError("the oven is cold")


async def spans_from_a_real_app() -> list[Any]:
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "shop"}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    app = Starlette(
        routes=[
            Route("/shops/{shop}/orders", create_order, methods=["POST"]),
            Route("/login", login, methods=["POST"]),
            Route("/broken", broken),
        ]
    )
    transport = httpx.ASGITransport(
        app=RequestLogMiddleware(app, tracer_provider=provider), raise_app_exceptions=False, client=("198.51.100.7", 1)
    )
    async with httpx.AsyncClient(transport=transport, base_url="http://shop.test") as client:
        headers = {"User-Agent": IPHONE, "Authorization": "Token abc", "X-Request-Id": "r-1", "Cookie": "a=b"}
        assert (
            await client.post("/shops/north/orders?coupon=A&coupon=B&token=s", json={"items": [1, 2]}, headers=headers)
        ).status_code == 201
        assert (await client.post("/login", data={"username": "ada", "password": "pw"})).status_code == 200
        assert (await client.get("/broken?x=1", headers={"User-Agent": "curl/8.11.0"})).status_code == 500
    # A span the service must ignore (not an HTTP server span) travels in the same batch.
    provider.get_tracer("test").start_span("SELECT orders", kind=SpanKind.CLIENT).end()
    provider.shutdown()
    return list(memory.get_finished_spans())


def rows_of(store: RequestLogStore) -> list[RequestLog]:
    cursor = store.cursor()
    found = cursor.execute(f"SELECT {', '.join(COLUMN_NAMES)} FROM {TABLE} ORDER BY span_id").fetchall()
    return [RequestLog(*values) for values in found]


def comparable(row: RequestLog) -> dict[str, Any]:
    return {name: getattr(row, name) for name in COLUMN_NAMES if name not in INSERTION_COLUMNS}


@pytest.mark.parametrize("compression", [Compression.NoCompression, Compression.Gzip])
async def test_in_process_and_otlp_make_the_same_rows(tmp_path: Path, aiohttp_client: Any, compression) -> None:  # type: ignore[no-untyped-def]
    spans = await spans_from_a_real_app()
    assert len(spans) == 4

    local = DuckDBSpanExporter(tmp_path / "in-process.duckdb")
    try:
        assert local.export(spans).name == "SUCCESS"
        expected = rows_of(local.store)
    finally:
        local.shutdown()

    settings = ServiceSettings.from_env({}, db=tmp_path / "service.duckdb", port=0)
    tokens = make_accounts(settings.accounts_path)
    client = await aiohttp_client(create_app(settings))
    otlp = OTLPSpanExporter(
        endpoint=str(client.make_url("/v1/traces")), headers=auth(tokens.ingest_only), compression=compression
    )
    try:
        # The stock exporter blocks; the service answers on this test's event loop.
        assert (await asyncio.to_thread(otlp.export, spans)).name == "SUCCESS"
    finally:
        otlp.shutdown()
    received = rows_of(client.server.app[STORE_KEY])

    assert len(expected) == 3 and len(received) == 3
    assert [comparable(row) for row in received] == [comparable(row) for row in expected]
    assert client.server.app[INGEST_KEY].stats.ignored == 1
    # Spot checks that the comparison covered real content.
    by_endpoint = {row.endpoint: row for row in received}
    assert by_endpoint["/shops/north/orders"].username == "ada"
    assert by_endpoint["/shops/north/orders"].device_type == "mobile"
    assert by_endpoint["/broken"].exception_type == "RuntimeError"
    assert '"password":"[REDACTED]"' in (by_endpoint["/login"].body or "").replace(" ", "")
