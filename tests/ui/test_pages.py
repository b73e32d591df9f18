"""The viewer's pages over HTTP: escaping of hostile values, filters, detail, dashboard data, SQL, headers."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from aiohttp.test_utils import TestClient

from exporter.errors import ConfigError
from exporter.row import RequestLog
from query_api import ServiceSettings, create_app
from query_api.ui.render import CONTENT_SECURITY_POLICY
from query_api.ui.settings import UiSettings
from tests.query_api.conftest import ClientFactory
from tests.query_api.harness import Tokens, make_row, seed

from . import data
from .helpers import page_csrf, sign_in

HOSTILE = {
    "endpoint": "/xss/" + data.SCRIPT + data.IMG,
    "route": data.JS_URL,
    "username": data.EVIL_USER,
    "user_id": data.IMG,
    "user_full_name": data.TEMPLATE,
    "exception_type": data.EVIL_EXCEPTION,
    "exception_message": data.SCRIPT,
    "exception_traceback": data.IMG,
    "request_headers": orjson.dumps({"X-Evil": data.IMG, "Authorization": "[REDACTED]"}).decode(),
    "body": orjson.dumps({"a": data.SCRIPT, "b": data.JS_URL}).decode(),
    "response": orjson.dumps(data.IMG).decode(),
    "device_type": data.IMG,
    "browser": data.SCRIPT,
    "service_name": data.SCRIPT,
    "ip": "10.0.0.9",
    "status_code": 500,
    "trace_id": "ab" * 16,
}
# What must never appear raw in a page: each would be live markup there.
RAW = ("<script>window", "<img src=x", 'onerror="window', "<script>alert")


@pytest.fixture
def rows() -> list[RequestLog]:
    # Relative to the moment the test runs (the pages' presets are relative to now).
    started = datetime.now(UTC).replace(tzinfo=None) - timedelta(minutes=10)
    ordinary = [
        make_row(i, started_at=started + timedelta(seconds=i), trace_id="ab" * 16 if i == 3 else f"{i:032x}")
        for i in range(20)
    ]
    big = make_row(
        20,
        started_at=started + timedelta(seconds=20),
        response=orjson.dumps({"k": "v" * 5000}).decode(),
        body=orjson.dumps("partial prefix").decode(),
        request_body_truncated=True,
        request_body_size=90_000,
        response_body_size=4096,
        response_body_truncated=False,
    )
    binary = make_row(21, started_at=started + timedelta(seconds=21), response=None, response_body_size=2048)
    hostile = make_row(22, **{**HOSTILE, "started_at": started + timedelta(seconds=22)})
    return [*ordinary, big, binary, hostile]


@pytest.fixture
async def client(
    aiohttp_client: ClientFactory, settings: ServiceSettings, tokens: Tokens, rows: list[RequestLog]
) -> TestClient[Any, Any]:
    seed(settings.db, rows)
    ui = UiSettings(trace_url="https://jaeger.example/trace/{trace_id}")
    client = await aiohttp_client(create_app(settings, ui))
    answer = await sign_in(client, token=tokens.admin)
    assert answer.status == 303
    return client


async def _html(client: TestClient[Any, Any], path: str, status: int = 200) -> str:
    answer = await client.get(path)
    assert answer.status == status, (path, answer.status)
    return await answer.text()


async def test_hostile_values_are_escaped_on_every_page(client: TestClient[Any, Any]) -> None:
    pages = [
        "/ui/",
        "/ui/logs/23",
        "/ui/logs/4",
        "/ui/dashboard?range=1h",
        "/ui/?trace_id=" + "ab" * 16,
        "/ui/rows?after_id=20",
    ]
    for path in pages:
        html = await _html(client, path)
        for raw in RAW:
            assert raw not in html, (path, raw)
    detail = await _html(client, "/ui/logs/23")
    assert "&lt;script&gt;window.__xss=1" in detail
    assert 'href="javascript' not in detail and "href='javascript" not in detail
    assert "{{7*7}}" in detail  # template syntax shown, never evaluated ("49" would mean it ran)
    dashboard = await _html(client, "/ui/dashboard?range=1h")
    assert "route=javascript%3A" in dashboard  # the hostile route only inside an escaped query string


async def test_pages_carry_a_strict_content_security_policy(client: TestClient[Any, Any]) -> None:
    for path in ("/ui/", "/ui/logs/1", "/ui/sql", "/ui/login"):
        answer = await client.get(path)
        assert answer.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
        assert answer.headers["X-Frame-Options"] == "DENY"
        assert "<script>" not in (await answer.text()).replace('<script src="/ui/static/', "")  # no inline script
    assert "script-src 'self';" in CONTENT_SECURITY_POLICY and "unsafe" not in CONTENT_SECURITY_POLICY
    assert "frame-ancestors 'none'" in CONTENT_SECURITY_POLICY
    static = await client.get("/ui/static/uPlot.iife.min.js")
    assert static.status == 200 and "uPlot" in await static.text()


async def test_the_list_filters_with_the_api_s_parameters(client: TestClient[Any, Any]) -> None:
    only_errors = await _html(client, "/ui/?status=5xx")
    assert only_errors.count('<tr data-id="') == 1 and 'data-id="23"' in only_errors
    recent = await _html(client, "/ui/?range=15m&ip=10.0.0.0/24&page_size=5")
    assert recent.count('<tr data-id="') == 5 and 'rel="next"' in recent
    invalid = await _html(client, "/ui/?ip=not-an-ip&status=9xx", status=400)
    assert "Enter a valid IPv4 or IPv6 address." in invalid and "is not a valid choice" in invalid


async def test_cursor_pages_walk_the_whole_list(client: TestClient[Any, Any]) -> None:
    seen: list[str] = []
    path: str | None = "/ui/?page_size=10"
    while path:
        html = await _html(client, path.replace("&amp;", "&"))
        seen += [part.split('"')[0] for part in html.split('<tr data-id="')[1:]]
        path = html.split('rel="next" href="')[1].split('"')[0] if 'rel="next"' in html else None
    assert seen == [str(i) for i in range(23, 0, -1)]


async def test_live_rows_are_the_ones_newer_than_the_top(client: TestClient[Any, Any]) -> None:
    html = await _html(client, "/ui/rows?after_id=20&status=2xx")
    assert html.count('<tr data-id="') == 2 and 'data-id="22"' in html and 'data-id="21"' in html


async def test_the_detail_page_shows_bodies_sizes_headers_and_links(client: TestClient[Any, Any]) -> None:
    big = await _html(client, "/ui/logs/21")
    assert "<details><summary>JSON" in big  # the long response starts folded
    assert "Truncated: only the first part was stored of 90000 bytes" in big
    binary = await _html(client, "/ui/logs/22")
    assert "Not stored (binary or not captured): 2048 bytes" in binary
    hostile = await _html(client, "/ui/logs/23")
    assert 'class="tag redacted"' in hostile
    assert 'href="https://jaeger.example/trace/' + "ab" * 16 + '"' in hostile
    assert 'href="/ui/logs/4"' in hostile  # the other request of the same trace
    assert "curl -X GET" in hostile and "[REDACTED]" in hostile
    missing = await _html(client, "/ui/logs/999", status=404)
    assert "No RequestLog matches the given query." in missing


async def test_the_dashboard_series_counts_every_request_of_the_range(client: TestClient[Any, Any]) -> None:
    answer = await client.get("/ui/dashboard/series?range=1h")
    series = await answer.json()
    assert series["requests"] == 23 and series["errors"] == 1 and series["bucket_seconds"] == 60
    assert len(series["t"]) == len(series["rpm"]) == len(series["p99"]) >= 1
    assert sum(series["rpm"]) == pytest.approx(23)  # one-minute buckets: requests per minute = count
    route = await (await client.get("/ui/dashboard/series?range=1h&route=/api/items/{id}")).json()
    assert route["requests"] == 22
    custom = await client.get("/ui/dashboard/series?range=custom&started_after=2030-01-01T00:00")
    assert custom.status == 400  # a start after its end


async def test_sql_runs_in_the_sandbox_and_downloads(client: TestClient[Any, Any]) -> None:
    csrf = await page_csrf(client, "/ui/sql")
    sql = "SELECT id, username FROM request_logs WHERE username IS NOT NULL"
    ran = await client.post("/ui/sql", data={"csrf": csrf, "sql": sql})
    html = await ran.text()
    assert ran.status == 200 and "1 row in" in html and "&lt;script&gt;" in html and "<script>window" not in html
    refused = await client.post("/ui/sql", data={"csrf": csrf, "sql": "DELETE FROM request_logs"})
    assert 'role="alert"' in await refused.text()
    download = await client.post("/ui/sql/download", data={"csrf": csrf, "sql": sql, "format": "csv"})
    assert download.headers["Content-Disposition"] == 'attachment; filename="reqlog-query.csv"'
    table = list(csv.reader(io.StringIO(await download.text())))
    assert table == [["id", "username"], ["23", data.EVIL_USER]]
    as_json = await client.post("/ui/sql/download", data={"csrf": csrf, "sql": sql, "format": "json"})
    assert (await as_json.json())["rows"] == [[23, data.EVIL_USER]]
    forged = await client.post("/ui/sql", data={"csrf": "forged", "sql": sql})
    assert forged.status == 403
    elsewhere = await client.post(
        "/ui/sql", data={"csrf": csrf, "sql": sql}, headers={"Origin": "https://evil.example"}
    )
    assert elsewhere.status == 403


def test_the_trace_url_setting_takes_only_web_links() -> None:
    assert UiSettings(trace_url="https://t.example/{trace_id}").trace_link("ab", None) == "https://t.example/ab"
    for bad in ("javascript:alert(1)//{trace_id}", "https://t.example/", "https://t.example/{trace_id}/{other}"):
        with pytest.raises(ConfigError):
            UiSettings(trace_url=bad)
    with pytest.raises(ConfigError):
        UiSettings.from_env({"REQLOG_UI_SECRET": "short"})
