"""Start-up within its byte budget: a real `reqlog serve` on a file of 700 rows with 2 MB bodies.

The start-up warm-up of the recent-rows cache read up to 2,000 rows in one query: 700 rows of 2 MB
(~1.4 GB of rows) kept `reqlog serve` from starting. It now reads the newest rows in steps of at
most `list_page_bytes` and stops at `recent_cache_bytes`. The decoder caches' budgets are settings,
shown by `GET /api/metrics/service` as a decoding process holds them.
"""

from __future__ import annotations

import base64
import os
import urllib.request
from pathlib import Path

from exporter.store import RequestLogStore
from exporter.value_parts import ROWS_TABLE
from tests.otlp_payloads import pb_request, pb_span
from tests.query_api.harness import Service, auth, make_accounts, make_row

MIB = 1024 * 1024
ROWS, BODY = 700, 2 * MIB


def _seed(db: Path) -> None:
    store = RequestLogStore(db)
    try:
        for start in range(0, ROWS, 10):  # ten at a time: the test never holds much more than 20 MB
            rows = [make_row(k, body='"' + f"{k:04d}" * (BODY // 4) + '"') for k in range(start, start + 10)]
            store.insert_rows(rows, returning=False)
    finally:
        store.close()


def _peak_rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


def test_serve_starts_on_700_rows_of_2_mb_within_its_budgets(tmp_path: Path) -> None:
    db = tmp_path / "big.duckdb"
    _seed(db)
    _serve_and_check_budgets(db, tmp_path, newest=ROWS)


def test_serve_shows_the_decoder_cache_budgets_it_was_given(tmp_path: Path) -> None:
    db = tmp_path / "small.duckdb"
    store = RequestLogStore(db)
    store.insert_rows([make_row(0)], returning=False)
    store.close()
    _serve_and_check_budgets(db, tmp_path, newest=1)


def test_serve_answers_after_a_warm_up_stopped_by_its_time_limit(tmp_path: Path) -> None:
    db = tmp_path / "limited.duckdb"
    store = RequestLogStore(db)
    try:
        for k in range(12):
            store.insert_rows([make_row(k, body='"' + "x" * MIB + '"')], returning=False)
    finally:
        store.close()
    tokens = make_accounts(db.with_name("accounts.sqlite3"))
    # A time limit already past after the first step (at most 3 MiB, two of these rows).
    env = {"REQLOG_WARM_CACHE_SECONDS": "1e-9", "REQLOG_LIST_PAGE_BYTES": str(3 * MIB)}
    service = Service(db, tmp_path / "serve.log", env=env)  # fails the test if it does not answer
    try:
        status, body = service.get("/api/metrics/service", tokens.admin)
        assert status == 200 and 1 <= body["recent_cache"]["rows"] < 12
        assert "stopped at its time limit of 1e-09 s (REQLOG_WARM_CACHE_SECONDS)" in service.stderr()
        status, row = service.get("/api/metrics/request_logs/1", tokens.admin)  # not warmed: from the file
        assert status == 200 and row["id"] == 1
    finally:
        assert service.stop() == 0


def test_serve_answers_when_duckdb_refuses_even_one_row_of_the_warm_up(tmp_path: Path) -> None:
    # Incompressible 2 MB bodies kept inline, as a file written before long bodies went into parts
    # (`exporter/value_parts.py`) holds them: a query for one row still reads its whole vector of
    # bodies, which DuckDB refuses past its memory limit (700 such rows against 1 GB; 20 against
    # 16 MB here).
    db = tmp_path / "random.duckdb"
    store = RequestLogStore(db)
    try:
        for k in range(20):
            body = '"' + base64.b64encode(os.urandom(3 * MIB // 2)).decode() + '"'
            (request_id,) = store.insert_rows([make_row(k)])[0][:1]
            store.cursor().execute(f"UPDATE {ROWS_TABLE} SET body = ? WHERE id = ?", [body, request_id])
    finally:
        store.close()
    tokens = make_accounts(db.with_name("accounts.sqlite3"))
    service = Service(db, tmp_path / "serve.log", env={"REQLOG_MEMORY_LIMIT": "16MB"})  # it used to exit here
    try:
        status, body = service.get("/api/metrics/service", tokens.admin)
        assert status == 200 and body["recent_cache"]["rows"] == 0
        assert "recent cache warmed with 0 rows (0 bytes)" in service.stderr()
        assert "stopped at a row DuckDB could not read in full within REQLOG_MEMORY_LIMIT" in service.stderr()
    finally:
        assert service.stop() == 0


def _serve_and_check_budgets(db: Path, tmp_path: Path, *, newest: int) -> None:
    tokens = make_accounts(db.with_name("accounts.sqlite3"))
    budgets = {
        "REQLOG_RECENT_CACHE_BYTES": str(32 * MIB),
        "REQLOG_USER_AGENTS_CACHE_BYTES": str(200_000),
        "REQLOG_HEADER_NAMES_CACHE_BYTES": str(100_000),
        "REQLOG_CONTENT_TYPES_CACHE_BYTES": str(50_000),
        "REQLOG_HEADER_KEYS_CACHE_BYTES": str(300_000),
    }
    service = Service(db, tmp_path / "serve.log", env=budgets)  # fails the test if it does not answer
    try:
        status, row = service.get(f"/api/metrics/request_logs/{newest}", tokens.admin)
        assert status == 200 and row["id"] == newest
        # One OTLP request, so that a decoding process starts and holds a user agent and a header key.
        span = pb_span(
            {"http.request.method": "GET", "user_agent.original": "curl/8.5.0", "http.request.header.x_seen": ("v",)}
        )
        request = urllib.request.Request(
            f"http://127.0.0.1:{service.port}/v1/traces",
            data=pb_request([span]).SerializeToString(),
            headers={"Content-Type": "application/x-protobuf", **auth(tokens.ingest_only)},
        )
        with urllib.request.urlopen(request, timeout=30) as answer:
            assert answer.status == 200
        status, body = service.get("/api/metrics/service", tokens.admin)
        assert status == 200
        cache = body["recent_cache"]
        assert 0 < cache["bytes"] <= cache["max_bytes"] == 32 * MIB
        caches = body["decoder_caches"]
        assert caches["user agents"]["max_bytes"] == 200_000 and caches["user agents"]["entries"] >= 1
        assert caches["header names"]["max_bytes"] == 100_000
        assert caches["content types"]["max_bytes"] == 50_000
        assert caches["header keys"]["max_bytes"] == 300_000 and caches["header keys"]["entries"] >= 1
        assert all(cache["bytes"] <= cache["max_bytes"] for cache in caches.values())
        # The whole file is ~1.4 GB of rows; the service never held more than a fraction of it.
        assert _peak_rss_bytes(service.process.pid) < 700 * MIB
    finally:
        assert service.stop() == 0
