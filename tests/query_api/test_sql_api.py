"""`POST /api/metrics/sql` and `GET /api/metrics/request_logs/export` on a real service and DuckDB file."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from aiohttp.test_utils import TestClient

from exporter.row import COLUMN_NAMES, RequestLog
from query_api import ServiceSettings
from query_api.keys import SQL_SLOTS_KEY
from query_api.sql.slots import SQL_THREADS

from .harness import Tokens, auth
from .sqldata import make_row

N = 120
SQL = "/api/metrics/sql"
EXPORT = "/api/metrics/request_logs/export"


@pytest.fixture
def settings(db_path: Path) -> ServiceSettings:
    return ServiceSettings.from_env({}, db=db_path, port=0, sql_row_limit=100, sql_timeout=0.5, sql_max_bytes=1_000_000)


@pytest.fixture
def rows() -> list[RequestLog]:
    return [make_row(i) for i in range(N)]


async def _sql(client: TestClient[Any, Any], token: str, sql: str, **extra: Any) -> Any:
    return await client.post(SQL, json={"sql": sql, **extra}, headers=auth(token))


async def test_access_rule(api_client: TestClient[Any, Any], tokens: Tokens) -> None:
    response = await api_client.post(SQL, json={"sql": "SELECT 1"})
    assert response.status == 401
    assert response.headers["WWW-Authenticate"] == "Token"
    assert await response.json() == {"detail": "Authentication credentials were not provided."}
    for token in (tokens.staff_viewer, tokens.staff_plain, tokens.viewer_not_staff):
        response = await _sql(api_client, token, "SELECT 1")
        assert response.status == 403, token
        assert await response.json() == {"detail": "You do not have permission to perform this action."}
    assert (await _sql(api_client, tokens.inactive, "SELECT 1")).status == 401
    for token in (tokens.admin, tokens.ingest_only):  # admin, and an account holding 3603
        assert (await _sql(api_client, token, "SELECT 1")).status == 200


async def test_json_answer(api_client: TestClient[Any, Any], tokens: Tokens) -> None:
    response = await _sql(
        api_client, tokens.admin, "SELECT route, count(*) AS n FROM request_logs GROUP BY route ORDER BY route"
    )
    assert response.status == 200
    assert response.headers["X-Reqlog-Truncated"] == "false"
    assert await response.json() == {
        "columns": ["route", "n"],
        "rows": [["/health", 40], ["/orders", 40], ["/users/{id}", 40]],
        "truncated": False,
    }


async def test_views_are_queryable(api_client: TestClient[Any, Any], tokens: Tokens) -> None:
    response = await _sql(api_client, tokens.ingest_only, "SELECT sum(requests) FROM route_latency")
    assert (await response.json())["rows"] == [[N]]


async def test_row_cap(api_client: TestClient[Any, Any], tokens: Tokens) -> None:
    response = await _sql(api_client, tokens.admin, "SELECT id FROM request_logs ORDER BY id")
    body = await response.json()
    assert body["truncated"] is True
    assert response.headers["X-Reqlog-Truncated"] == "true"
    assert [r[0] for r in body["rows"]] == list(range(1, 101))


async def test_byte_cap(api_client: TestClient[Any, Any], tokens: Tokens) -> None:
    # 50 rows of 100 KB, under the 100-row cap but five times the 1 MB byte budget of these settings.
    response = await _sql(api_client, tokens.admin, "SELECT i, repeat('x', 100000) FROM range(50) t(i)")
    body = await response.json()
    assert response.status == 200 and body["truncated"] is True
    assert response.headers["X-Reqlog-Truncated"] == "true"
    assert [r[0] for r in body["rows"]] == list(range(9))  # nine rows of ~100 KB fit, the tenth would not


@pytest.mark.parametrize("how", ["body", "query", "accept"])
async def test_csv_answer(api_client: TestClient[Any, Any], tokens: Tokens, how: str) -> None:
    sql = "SELECT id, is_bot, user_id, request_headers FROM request_logs WHERE id <= 2 ORDER BY id"
    if how == "body":
        response = await _sql(api_client, tokens.admin, sql, format="csv")
    elif how == "query":
        response = await api_client.post(SQL + "?format=csv", json={"sql": sql}, headers=auth(tokens.admin))
    else:
        response = await api_client.post(SQL, json={"sql": sql}, headers={**auth(tokens.admin), "Accept": "text/csv"})
    assert response.status == 200
    assert response.content_type == "text/csv"
    parsed = list(csv.reader(io.StringIO(await response.text())))
    assert parsed == [
        ["id", "is_bot", "user_id", "request_headers"],
        ["1", "true", "", '{"User-Agent":"Firefox","Accept":"*/*"}'],
        ["2", "false", "1", '{"User-Agent":"Firefox","Accept":"*/*"}'],
    ]


async def test_form_and_plain_text_bodies(api_client: TestClient[Any, Any], tokens: Tokens) -> None:
    response = await api_client.post(SQL, data={"sql": "SELECT 42"}, headers=auth(tokens.admin))
    assert (await response.json())["rows"] == [[42]]
    response = await api_client.post(
        SQL, data=b"SELECT 43", headers={**auth(tokens.admin), "Content-Type": "text/plain"}
    )
    assert (await response.json())["rows"] == [[43]]


REFUSALS = [
    ("SELECT * FROM read_csv('/etc/passwd')", "file and network access is not allowed"),
    ("SELECT * FROM read_text('/etc/passwd')", "file and network access is not allowed"),
    ("SELECT * FROM glob('/etc/*')", "file and network access is not allowed"),
    ("SELECT * FROM read_parquet('http://127.0.0.1:9/x.parquet')", "file and network access is not allowed"),
    ("COPY request_logs TO '/tmp/out.csv'", "COPY is not allowed"),
    ("EXPORT DATABASE '/tmp/dump'", "EXPORT DATABASE is not allowed"),
    ("ATTACH '/tmp/other.duckdb' AS other", "ATTACH is not allowed"),
    ("INSTALL httpfs", "INSTALL and LOAD are not allowed"),
    ("LOAD httpfs", "INSTALL and LOAD are not allowed"),
    ("SET enable_external_access = true", "settings cannot be changed"),
    ("PRAGMA memory_limit = '64GB'", "settings cannot be changed"),
    ("PRAGMA enable_profiling", "PRAGMA enable_profiling is not allowed"),
    ("DELETE FROM request_logs", "this is a DELETE statement"),
    ("UPDATE request_logs SET ip = NULL", "this is a UPDATE statement"),
    ("INSERT INTO request_logs (endpoint) VALUES ('/x')", "this is a INSERT statement"),
    ("CREATE TABLE stolen AS SELECT * FROM request_logs", "this is a CREATE statement"),
    ("DROP VIEW route_latency", "this is a DROP statement"),
    ("COMMIT; DELETE FROM request_logs", "Exactly one SQL statement is allowed; got 2."),
]


@pytest.mark.parametrize(("sql", "message"), REFUSALS)
async def test_refusals_are_400_with_a_clear_message(
    api_client: TestClient[Any, Any], tokens: Tokens, sql: str, message: str
) -> None:
    response = await _sql(api_client, tokens.admin, sql)
    assert response.status == 400
    body = await response.json()
    assert list(body) == ["detail"]
    assert message in body["detail"]
    count = await _sql(api_client, tokens.admin, "SELECT count(*) FROM request_logs")
    assert (await count.json())["rows"] == [[N]]


async def test_time_limit_interrupts_and_says_so(api_client: TestClient[Any, Any], tokens: Tokens) -> None:
    response = await _sql(
        api_client, tokens.admin, "SELECT sum(hash(a.range * b.range)) FROM range(10000000) a, range(100000) b"
    )
    assert response.status == 400
    assert await response.json() == {"detail": "The query was interrupted: it ran longer than the 0.5 s time limit."}
    assert (await _sql(api_client, tokens.admin, "SELECT 1")).status == 200  # the service carries on


async def test_query_errors_are_400(api_client: TestClient[Any, Any], tokens: Tokens) -> None:
    response = await _sql(api_client, tokens.admin, "SELECT nope FROM request_logs")
    assert response.status == 400
    assert "nope" in (await response.json())["detail"]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({}, {"sql": ["This field is required."]}),
        ({"sql": ""}, {"sql": ["This field may not be blank."]}),
        ({"sql": "  \n"}, {"sql": ["This field may not be blank."]}),
        ({"sql": 5}, {"sql": ["Not a valid string."]}),
        ({"sql": "SELECT 1", "format": "xml"}, {"format": ['"xml" is not a valid choice.']}),
    ],
)
async def test_bad_arguments(
    api_client: TestClient[Any, Any], tokens: Tokens, body: dict[str, Any], expected: Any
) -> None:
    response = await api_client.post(SQL, json=body, headers=auth(tokens.admin))
    assert response.status == 400
    assert await response.json() == expected


async def test_body_must_be_an_object(api_client: TestClient[Any, Any], tokens: Tokens) -> None:
    response = await api_client.post(SQL, json=["SELECT 1"], headers=auth(tokens.admin))
    assert response.status == 400
    assert await response.json() == {"non_field_errors": ["Invalid data. Expected a dictionary, but got list."]}


async def test_malformed_json(api_client: TestClient[Any, Any], tokens: Tokens) -> None:
    response = await api_client.post(
        SQL, data=b"{nope", headers={**auth(tokens.admin), "Content-Type": "application/json"}
    )
    assert response.status == 400
    assert (await response.json())["detail"].startswith("JSON parse error")


async def test_export_streams_every_row_as_arrow(api_client: TestClient[Any, Any], tokens: Tokens) -> None:
    assert (await api_client.get(EXPORT, headers=auth(tokens.staff_viewer))).status == 403
    response = await api_client.get(EXPORT, headers=auth(tokens.ingest_only))
    assert response.status == 200
    assert response.headers["X-Reqlog-Rows"] == str(N)
    table = pa.ipc.open_stream(await response.read()).read_all()
    assert table.num_rows == N
    assert table.column_names == list(COLUMN_NAMES)
    assert table.column("id").to_pylist() == list(range(1, N + 1))  # oldest first


async def test_export_range_and_bad_bounds(api_client: TestClient[Any, Any], tokens: Tokens) -> None:
    response = await api_client.get(
        EXPORT, params={"since": "2025-11-19", "until": "2025-11-19"}, headers=auth(tokens.admin)
    )
    table = pa.ipc.open_stream(await response.read()).read_all()
    expected = sum(1 for i in range(N) if make_row(i).started_at.date().isoformat() == "2025-11-19")  # type: ignore[union-attr]
    assert table.num_rows == expected == int(response.headers["X-Reqlog-Rows"])
    response = await api_client.get(EXPORT, params={"since": "yesterday"}, headers=auth(tokens.admin))
    assert response.status == 400
    assert list(await response.json()) == ["since"]


async def test_openapi_lists_the_analysis_endpoints(api_client: TestClient[Any, Any]) -> None:
    doc = await (await api_client.get("/api/openapi.json")).json()
    assert {"/api/metrics/sql", "/api/metrics/request_logs/stats", EXPORT} <= set(doc["paths"])
    assert doc["paths"]["/api/metrics/sql"]["post"]["operationId"] == "runSql"
    assert "SqlResult" in doc["components"]["schemas"]


async def test_every_slot_busy_is_429_with_retry_after(api_client: TestClient[Any, Any], tokens: Tokens) -> None:
    slots = api_client.server.app[SQL_SLOTS_KEY]
    for _ in range(SQL_THREADS):
        await slots.acquire()  # as if two long queries were running
    try:
        response = await _sql(api_client, tokens.admin, "SELECT 1")
        assert response.status == 429
        assert response.headers["Retry-After"] == "1"
        assert (await response.json())["detail"].startswith("Request was throttled.")
        # The API's own reads do not wait for analyst queries.
        assert (await api_client.get("/api/metrics/request_logs/1", headers=auth(tokens.admin))).status == 200
    finally:
        for _ in range(SQL_THREADS):
            slots.release()
    assert (await _sql(api_client, tokens.admin, "SELECT 1")).status == 200
