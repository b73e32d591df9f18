"""Retrieve by id through the live service: the spec's exact shape, stored JSON served verbatim."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp.test_utils import TestClient
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from exporter import REDACTED, DuckDBSpanExporter
from exporter.row import RequestLog
from query_api import ServiceSettings, create_app
from query_api.keys import RECENT_KEY, STORE_KEY
from tests.exporter.spans import make_span
from tests.exporter.test_example_response import EXAMPLE, example_attributes

from .conftest import ClientFactory
from .harness import Tokens, auth, make_row

# Odd but valid JSON text: served as stored, its spacing and key order survive.
VERBATIM_HEADERS = '{"Zeta":  "1", "Alpha":"2" ,"n": 1.50}'


@pytest.fixture
def rows() -> list[RequestLog]:
    return [make_row(0), make_row(1, request_headers=VERBATIM_HEADERS, body='"truncated \\u00e9"')]


async def test_spec_example_end_to_end(
    aiohttp_client: ClientFactory,
    settings: ServiceSettings,
    tokens: Tokens,
    tracer_provider: TracerProvider,
    span_exporter: InMemorySpanExporter,
) -> None:
    # span -> real exporter -> real DuckDB file -> the service -> JSON
    span = make_span(tracer_provider, span_exporter, example_attributes())
    exporter = DuckDBSpanExporter(settings.db)
    assert exporter.export([span]).name == "SUCCESS"
    exporter.shutdown()
    client = await aiohttp_client(create_app(ServiceSettings.from_env({}, db=settings.db, warm_cache=False)))
    response = await client.get("/api/metrics/request_logs/1", headers=auth(tokens.staff_viewer))
    assert response.status == 200
    assert response.headers["Content-Type"] == "application/json"
    body = json.loads(await response.read())
    assert list(body)[: len(EXAMPLE)] == list(EXAMPLE)  # spec order first, extras after
    expected = {**EXAMPLE, "request_headers": {**EXAMPLE["request_headers"], "Cookie": REDACTED}}
    for name in ("created_at", "updated_at"):
        assert isinstance(body[name], str) and body[name].endswith("Z")
        expected.pop(name)
    assert {k: body[k] for k in expected} == expected
    assert type(body["duration"]) is float and type(body["status_code"]) is int and body["is_bot"] is False


@pytest.mark.parametrize("warm", [True, False])
async def test_stored_json_text_is_served_verbatim(
    aiohttp_client: ClientFactory, settings: ServiceSettings, tokens: Tokens, stored: list[Any], warm: bool
) -> None:
    # warm=True answers from the recent cache, warm=False from the store: the same bytes either way.
    app = create_app(ServiceSettings.from_env({}, db=settings.db, warm_cache=warm))
    client = await aiohttp_client(app)
    response = await client.get("/api/metrics/request_logs/2", headers=auth(tokens.admin))
    raw = await response.read()
    assert response.status == 200
    assert b'"request_headers":' + VERBATIM_HEADERS.encode() + b"," in raw
    assert orjson.loads(raw)["body"] == "truncated \u00e9"
    assert (len(app[RECENT_KEY]) == 2) is warm


async def test_cache_and_store_render_identically(
    api_client: TestClient[Any, Any], tokens: Tokens, stored: list[Any]
) -> None:
    app = api_client.app
    assert app is not None
    cached = app[RECENT_KEY].get(1)
    assert cached is not None
    app[RECENT_KEY].clear()
    response = await api_client.get("/api/metrics/request_logs/1", headers=auth(tokens.admin))
    assert await response.read() == cached


async def test_trailing_slash_as_drf(api_client: TestClient[Any, Any], tokens: Tokens) -> None:
    response = await api_client.get("/api/metrics/request_logs/1/", headers=auth(tokens.admin))
    assert response.status == 200 and (await response.json())["id"] == 1


async def test_server_error_reveals_nothing(api_client: TestClient[Any, Any], tokens: Tokens, db_path: Path) -> None:
    app = api_client.app
    assert app is not None
    app[RECENT_KEY].clear()
    app[STORE_KEY].close()  # every read now raises StorageError("the store is closed")
    response = await api_client.get("/api/metrics/request_logs/1", headers=auth(tokens.admin))
    assert response.status == 500
    assert await response.read() == b'{"detail":"A server error occurred."}'
    response = await api_client.get("/api/metrics/request_logs", headers=auth(tokens.admin))
    assert response.status == 500
    assert await response.json() == {"detail": "A server error occurred."}


async def test_unknown_paths_and_methods_answer_drf_json(api_client: TestClient[Any, Any], tokens: Tokens) -> None:
    response = await api_client.get("/api/nothing-here", headers=auth(tokens.admin))
    assert (response.status, await response.json()) == (404, {"detail": "Not found."})
    response = await api_client.delete("/api/metrics/request_logs/1", headers=auth(tokens.admin))
    assert (response.status, await response.json()) == (405, {"detail": 'Method "DELETE" not allowed.'})
    assert response.headers["Allow"] == "GET, HEAD, OPTIONS"
    response = await api_client.post("/api/metrics/request_logs", headers=auth(tokens.admin))
    assert (response.status, await response.json()) == (405, {"detail": 'Method "POST" not allowed.'})
    # As in DRF, authentication and permission come before the method check.
    response = await api_client.put("/api/metrics/request_logs/1")
    assert (response.status, response.headers["WWW-Authenticate"]) == (401, "Token")
    response = await api_client.patch("/api/metrics/request_logs/1/", headers=auth(tokens.staff_plain))
    assert response.status == 403
    response = await api_client.head("/api/metrics/request_logs/1", headers=auth(tokens.admin))
    assert response.status == 200 and response.content_type == "application/json"
