"""The whole path: a real Starlette app -> RequestLogMiddleware -> OTel SDK -> DuckDBSpanExporter
-> a real DuckDB file -> the reqlog service on a loopback port -> the API's JSON.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from exporter import REDACTED, DuckDBSpanExporter
from instrumentation import RequestLogMiddleware, set_user
from query_api import ServiceSettings, create_app
from query_api.accounts.db import AccountDB

FIREFOX = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:145.0) Gecko/20100101 Firefox/145.0"


async def create_order(request: Request) -> JSONResponse:
    payload = await request.json()
    set_user(7, "ada", "Ada Lovelace")
    return JSONResponse({"order": request.path_params["shop"], "items": payload["items"]}, status_code=201)


async def broken(request: Request) -> JSONResponse:
    raise RuntimeError("the oven is cold")


def build_app(provider: TracerProvider) -> Any:
    app = Starlette(routes=[Route("/shops/{shop}/orders", create_order, methods=["POST"]), Route("/broken", broken)])
    return RequestLogMiddleware(app, tracer_provider=provider)


async def drive(app: Any) -> None:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False, client=("198.51.100.7", 5000))
    async with httpx.AsyncClient(transport=transport, base_url="http://shop.test") as client:
        created = await client.post(
            "/shops/north/orders?coupon=A&coupon=B&token=s3cret",
            json={"items": [1, 2], "password": "hunter2"},
            headers={"User-Agent": FIREFOX, "Authorization": "Token abc", "X-Trace": "t-1"},
        )
        assert created.status_code == 201
        failed = await client.get("/broken", headers={"User-Agent": FIREFOX})
        assert failed.status_code == 500


async def test_a_request_comes_back_through_the_api(tmp_path: Path, aiohttp_client: Any) -> None:
    db = tmp_path / "reqlog.duckdb"
    provider = TracerProvider(resource=Resource.create({"service.name": "shop"}))
    exporter = DuckDBSpanExporter(db)
    provider.add_span_processor(BatchSpanProcessor(exporter))
    await drive(build_app(provider))
    provider.shutdown()  # flushes the batch and closes the file, as an app does when it stops

    settings = ServiceSettings.from_env({}, db=db, port=0)
    with AccountDB(settings.accounts_path) as accounts:
        accounts.create_account("admin", is_superuser=True)
        token = accounts.create_token("admin")
    client = await aiohttp_client(create_app(settings))
    headers = {"Authorization": f"Token {token}"}

    listing = await client.get("/api/metrics/request_logs", headers=headers)
    assert listing.status == 200
    results = (await listing.json())["results"]
    assert [r["endpoint"] for r in results] == ["/broken", "/shops/north/orders"]  # newest first

    order_id = results[1]["id"]
    response = await client.get(f"/api/metrics/request_logs/{order_id}", headers=headers)
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("application/json")
    log = await response.json()
    assert log["user"] == {"id": 7, "username": "ada", "full_name": "Ada Lovelace"}
    assert (log["ip"], log["device_type"], log["os"], log["browser"], log["is_bot"]) == (
        "198.51.100.7",
        "pc",
        "Windows",
        "Firefox",
        False,
    )
    assert (log["scheme"], log["method"], log["status_code"], log["route"]) == (
        "http",
        "POST",
        201,
        "/shops/{shop}/orders",
    )
    assert log["query_params"] == {"coupon": ["A", "B"], "token": REDACTED}
    assert log["body"] == {"items": [1, 2], "password": REDACTED}
    assert log["response"] == {"order": "north", "items": [1, 2]}
    assert log["request_headers"]["Authorization"] == REDACTED
    assert log["request_headers"]["X-Trace"] == "t-1"
    assert log["response_headers"]["Content-Type"] == "application/json"
    assert log["exception_type"] is None and log["service_name"] == "shop"
    assert 0 < log["duration"] < 60 and log["started_at"].endswith("Z")

    broken_log = await (await client.get(f"/api/metrics/request_logs/{results[0]['id']}", headers=headers)).json()
    assert broken_log["status_code"] == 500
    assert broken_log["exception_type"] == "RuntimeError"
    assert broken_log["exception_message"] == "the oven is cold"
    assert "raise RuntimeError" in broken_log["exception_traceback"]
    assert broken_log["user"] is None
