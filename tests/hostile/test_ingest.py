"""Attacks on OTLP ingest: what an ingest token alone can send, and what the store does with it.

`test_huge_bodies_cannot_break_the_database`: ~70 requests with 15 MB bodies, at default settings.
Before `exporter.limits`, the rows went in whole and DuckDB's checkpoint could not pin their blocks
within the default 1 GB `memory_limit`: DuckDB invalidated the database, every later write got 503,
reads 500, and a restart failed replaying the WAL. Now each body is cut at 1 MiB and flagged.
"""

from __future__ import annotations

import signal
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest
from aiohttp.test_utils import TestClient

from exporter.row import RequestLog, row_values
from exporter.store import RequestLogStore, values_to_arrow
from instrumentation import attributes as attr
from query_api.ingest.writer import Writer
from query_api.keys import INGEST_KEY, STORE_KEY

from ..otlp_payloads import pb_request, pb_span
from ..query_api.harness import Service, Tokens, auth, make_accounts

MIB = 1024 * 1024


def _post(service: Service, token: str, body: bytes) -> int:
    request = urllib.request.Request(
        f"http://127.0.0.1:{service.port}/v1/traces",
        data=body,
        headers={"Content-Type": "application/x-protobuf", "Authorization": f"Token {token}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        with error:
            return int(error.code)


def _big_request(k: int, size: int) -> bytes:
    span = pb_span(
        {
            "http.request.method": "POST",
            "url.path": f"/upload/{k}",
            "http.response.status_code": 201,
            attr.REQUEST_BODY_CONTENT: f"{k:06d}" * (size // 6),
            attr.REQUEST_BODY_CONTENT_TYPE: "text/plain",
            "exception.message": "m" * (size // 4),  # not an event: ignored, and must cost nothing
        },
        span_id=(k + 1).to_bytes(8, "big"),
        events=[("exception", {"exception.type": "ValueError", "exception.message": "e" * (2 * MIB)})],
    )
    return pb_request([span]).SerializeToString()


def test_huge_bodies_cannot_break_the_database(tmp_path: Path) -> None:
    db = tmp_path / "reqlog.duckdb"
    tokens = make_accounts(tmp_path / "accounts.sqlite3")
    service = Service(db, tmp_path / "first.log")
    try:
        statuses = [_post(service, tokens.ingest_only, _big_request(k, 15 * MIB)) for k in range(70)]
        assert statuses == [200] * 70
        small = pb_request([pb_span({"http.request.method": "GET", "url.path": "/after"}, span_id=b"after..!")])
        assert _post(service, tokens.ingest_only, small.SerializeToString()) == 200
        status, page = service.get("/api/metrics/request_logs?page_size=3", tokens.admin)
        assert status == 200 and page["results"][0]["endpoint"] == "/after"
        big = page["results"][1]
        assert big["request_body_truncated"] is True
        assert big["request_body_size"] >= 15 * MIB - 6
        assert MIB - 8 <= len(big["body"].encode()) <= MIB + 2  # cut at 1 MiB, stored as a JSON string
        assert big["exception_message"].endswith("characters]") and len(big["exception_message"]) < 70_000
        status, one = service.get(f"/api/metrics/request_logs/{big['id']}", tokens.admin)
        assert status == 200 and one["id"] == big["id"]
        status, health = service.get("/api/metrics/service", tokens.admin)
        assert health["store"]["status"] == "ok" and health["writer"]["failures"] == 0
        assert health["writer"]["rows_written"] == 71
    finally:
        assert service.stop() == 0
    again = Service(db, tmp_path / "second.log")  # the restart replays the WAL within the same limit
    try:
        status, page = again.get("/api/metrics/request_logs?page_size=2", tokens.admin)
        assert status == 200 and [row["endpoint"] for row in page["results"]] == ["/after", "/upload/69"]
        assert _post(again, tokens.ingest_only, _big_request(100, 2 * MIB)) == 200
    finally:
        assert again.stop(signal.SIGTERM) == 0
    con = duckdb.connect(str(db), read_only=True)
    try:
        count, longest = con.execute("SELECT count(*), max(strlen(body::VARCHAR)) FROM request_logs").fetchall()[0]
        assert count == 72 and longest <= MIB + 2
    finally:
        con.close()


def _rows(first: int, count: int, *, body: str | None = None) -> pa.Table:
    return values_to_arrow(
        [row_values(RequestLog(trace_id="a" * 32, span_id=f"{first + k:016x}", body=body)) for k in range(count)]
    )


def test_an_invalidated_database_is_reopened_by_the_writer(tmp_path: Path) -> None:
    # A real invalidation: rows with 15 MB strings (written past `limits`, straight into the store),
    # then a checkpoint that cannot pin their blocks. DuckDB's own words: "database has been
    # invalidated because of a previous fatal error".
    store = RequestLogStore(tmp_path / "logs.duckdb", checkpoint_threshold="1GB")  # no locked config
    writer = Writer(store)
    writer.start()
    try:
        big = '"' + "x" * (15 * MIB) + '"'
        assert writer.submit(_rows(0, 5, body=big)).result(60) == 5
        store.cursor().execute("SET memory_limit = '20MB'")
        with pytest.raises(duckdb.FatalException):
            store.cursor().execute("CHECKPOINT")
        with pytest.raises(duckdb.FatalException, match="invalidated"):
            store.cursor().execute("SELECT count(*) FROM request_logs").fetchall()
        # The next batch finds the database invalidated: the store reopens the file and writes it.
        assert writer.submit(_rows(100, 3)).result(60) == 3
        assert store.reopens == 1 and store.last_reopen is not None
        assert "invalidated" in store.last_reopen[1]
        assert store.count() == 8  # nothing committed before the failure was lost
        assert writer.failures == 0
    finally:
        writer.close()
        store.close()


async def test_the_service_says_it_reopened_the_database(
    api_client: TestClient[Any, Any], tokens: Tokens, monkeypatch: pytest.MonkeyPatch
) -> None:
    # DuckDB's FatalException at the writer boundary, once, as an invalidated database raises it.
    store = api_client.server.app[STORE_KEY]  # type: ignore[union-attr]
    real = store._insert
    calls = []

    def failing_once(table: pa.Table, returning: bool) -> list[tuple[Any, ...]]:
        calls.append(table.num_rows)
        if len(calls) == 1:
            raise duckdb.FatalException(
                "FATAL Error: Failed: database has been invalidated because of a previous fatal error."
            )
        return real(table, returning)

    monkeypatch.setattr(store, "_insert", failing_once)
    body = pb_request([pb_span({"http.request.method": "GET", "url.path": "/x"})]).SerializeToString()
    response = await api_client.post(
        "/v1/traces", data=body, headers={"Content-Type": "application/x-protobuf", **auth(tokens.ingest_only)}
    )
    assert response.status == 200
    assert calls == [1, 1]
    status = await (await api_client.get("/api/metrics/service", headers=auth(tokens.admin))).json()
    assert status["store"]["status"] == "reopened" and status["store"]["reopens"] == 1
    assert "invalidated" in status["store"]["last_reopen_error"]
    assert api_client.server.app[INGEST_KEY].stats.rows == 1  # type: ignore[union-attr]
    listing = await (await api_client.get("/api/metrics/request_logs", headers=auth(tokens.admin))).json()
    assert [row["endpoint"] for row in listing["results"]] == ["/x"]
