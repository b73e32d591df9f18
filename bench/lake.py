"""reqlog on DuckLake (docs/scale.md): ingest per writer against the single file, lookups and routes at scale.

Runs in the lake environment (`make bench` uses `.venv-lake` for it: DuckDB 1.5.5 and the extension
wheels), on a throwaway PostgreSQL started here, with the lake's data on the local disk.

1. OTLP ingest, spans/s: the same pre-encoded batches of 512 realistic spans (`bench.spans`) POSTed
   by 4 clients to `reqlog serve` on one DuckDB file, and to one lake writer
   (`reqlog serve --backend ducklake --role writer`), rounds interleaved, medians compared.
   Goal: a writer >= 0.5x the single file.
2. A lake of ROWS rows (1M; REQLOG_BENCH_LAKE_ROWS=10000000 for the 10M-row figures), written as
   the writers write it: one commit per 10,000 rows, ids in contiguous ranges. Lookups by id on a
   query node's store, DuckLake's own read and the file index's (`exporter/lake/lookup.py`)
   interleaved for the same random ids: files read and p50. Goal: one file, p50 <= 20 ms.
3. Per-route p95 over HTTP on a query node of that lake (SQL time limit raised, so a slow route is
   timed rather than refused): retrieve, list (plain and filtered), stats. Goal (at 10M rows): <= 2 s.
2 and 3 run on the files as written, then again after the maintenance pass's compaction
(`ducklake_merge_adjacent_files`).

    make bench   # or: .venv-lake/bin/python -m bench lake   (REQLOG_BENCH_QUICK=1: smaller)
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import psycopg
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

from bench.common import QUICK, median, percentile, report
from bench.ingest_service import BATCH, CLIENTS, Service, send_all
from bench.spans import make_spans
from exporter import store_queries
from exporter.lake import LakeConfig, LakeStore, ids
from exporter.lake.provision import provision
from exporter.row import iter_columns
from query_api.accounts.pg import PgAccountDB
from query_api.auth import PERM_INGEST
from tests.lake.nodes import Node
from tests.lake.postgres import ThrowawayPostgres

ROWS = int(os.environ.get("REQLOG_BENCH_LAKE_ROWS", "100000" if QUICK else "1000000"))
ROUNDS = 2 if QUICK else 3
REPEATS = 5 if QUICK else 20 if ROWS <= 1_000_000 else 10  # requests per route
INGEST_BATCHES = 8 if QUICK else 40
COMMIT_ROWS = 10_000
PASSWORDS = {"reqlog_writer": "bench-writer", "reqlog_analyst": "bench-analyst", "reqlog_accounts": "bench-accounts"}

# Synthetic rows in SQL (the lake's DuckDB writes them straight to Parquet): every column filled
# about as a real request fills it, ~1 KB of text a row.
_EXPRESSIONS = {
    "id": "i",
    "user_id": "(i % 5000)::VARCHAR",
    "username": "'user' || (i % 5000)",
    "user_full_name": "'User ' || (i % 5000)",
    "ip": "'10.' || (i % 200) || '.' || (i % 97) || '.' || (i % 13)",
    "device": "'Other'",
    "device_type": "'pc'",
    "is_bot": "i % 40 = 0",
    "os": "'Linux'",
    "browser": "'Firefox'",
    "scheme": "'https'",
    "endpoint": "'/api/orders/' || i || '?page=' || (i % 9)",
    "method": "['GET', 'POST', 'PUT', 'DELETE'][i % 4 + 1]",
    "status_code": "[200, 200, 201, 404, 500][i % 5 + 1]",
    "exception_type": "CASE WHEN i % 5 = 4 THEN 'ValueError' END",
    "started_at": "TIMESTAMP '2026-01-01' + to_microseconds(i * 250000)",
    "finished_at": "TIMESTAMP '2026-01-01' + to_microseconds(i * 250000 + 1000 * (i % 300))",
    "duration": "(i % 300) / 1000.0",
    "created_at": "TIMESTAMP '2026-01-01' + to_microseconds(i * 250000)",
    "updated_at": "TIMESTAMP '2026-01-01' + to_microseconds(i * 250000)",
    "query_params": """'{"page":"' || (i % 9) || '"}'""",
    "body": """'{"order":' || i || ',"items":[' || repeat('{"sku":"A-1","qty":2},', 8) || '{"sku":"B"}]}'""",
    "response": """'{"ok":true,"order":' || i || ',"note":"' || repeat('x', 300) || '"}'""",
    "request_headers": """'{"user-agent":"Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0","accept":"*/*"}'""",
    "response_headers": """'{"content-type":"application/json","content-length":"420"}'""",
    "trace_id": "lpad(to_hex(i), 32, '0')",
    "span_id": "lpad(to_hex(i), 16, '0')",
    "service_name": "'orders'",
    "route": "['/api/orders', '/api/orders/{id}', '/api/users/{id}', '/login', '/api/search'][i % 5 + 1]",
    "request_body_size": "200",
    "response_body_size": "420",
    "request_body_truncated": "false",
    "response_body_truncated": "false",
}
_FILL = (
    "INSERT INTO request_logs ("
    + ", ".join(name for name, _, _ in iter_columns())
    + ", span_key) SELECT "
    + ", ".join(_EXPRESSIONS.get(name, "NULL") for name, _, _ in iter_columns())
    + ", hash(lpad(to_hex(i), 32, '0'), lpad(to_hex(i), 16, '0')) FROM range(?, ?) t(i)"
)


def _lake(server: ThrowawayPostgres, root: Path, name: str) -> dict[str, str]:
    provision(server.dsn(), f"{name}_lake", f"{name}_accounts", PASSWORDS)
    return {
        "writer": server.dsn(f"{name}_lake", "reqlog_writer", PASSWORDS["reqlog_writer"]),
        "analyst": server.dsn(f"{name}_lake", "reqlog_analyst", PASSWORDS["reqlog_analyst"]),
        "accounts": server.dsn(f"{name}_accounts", "reqlog_accounts", PASSWORDS["reqlog_accounts"]),
        "data": str(root / name),
    }


def _node(role: str, lake: dict[str, str], root: Path, extra: dict[str, str] | None = None) -> Node:
    env = {
        "REQLOG_LAKE_CATALOG": lake["writer" if role != "query" else "analyst"],
        "REQLOG_LAKE_DATA": lake["data"],
        "REQLOG_LAKE_ACCOUNTS": lake["accounts"],
        **(extra or {}),
    }
    node = Node(role, env, root / f"{role}.log").start()
    node.wait_ready()
    return node


def ingest(server: ThrowawayPostgres, root: Path) -> tuple[list[dict[str, Any]], float]:
    spans = make_spans(BATCH * (INGEST_BATCHES + 1))
    bodies = [encode_spans(spans[i : i + BATCH]).SerializeToString() for i in range(0, len(spans), BATCH)]
    warm, timed = bodies[0], bodies[1:]
    count = BATCH * INGEST_BATCHES
    rates: dict[str, list[float]] = {"single file": [], "lake writer": []}
    for round_number in range(ROUNDS):
        single_dir = root / f"single-{round_number}"
        single_dir.mkdir()
        service = Service(single_dir)
        try:
            rates["single file"].append(_timed_send(service.port, service.token, warm, timed, count))
        finally:
            service.stop()
        lake = _lake(server, root, f"ingest{round_number}")
        with PgAccountDB(lake["accounts"]) as accounts:
            accounts.create_account("collector", permissions=[PERM_INGEST])
            token = accounts.create_token("collector")
        writer = _node("writer", lake, root / f"single-{round_number}")
        try:
            rates["lake writer"].append(_timed_send(writer.port, token, warm, timed, count))
        finally:
            writer.stop()
    rows = [{"path": name, "spans_per_s": median(values), "rounds": len(values)} for name, values in rates.items()]
    return rows, median(rates["lake writer"]) / median(rates["single file"])


def _timed_send(port: int, token: str, warm: bytes, bodies: list[bytes], count: int) -> float:
    send_all(port, token, [warm], [], [])
    errors: list[str] = []
    threads = [
        threading.Thread(target=send_all, args=(port, token, bodies[i::CLIENTS], [], errors)) for i in range(CLIENTS)
    ]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - start
    if errors:
        raise RuntimeError(f"ingest failed: {errors[:3]}")
    return count / elapsed


def fill(lake: dict[str, str]) -> tuple[LakeStore, float]:
    store = LakeStore(LakeConfig(catalog=lake["writer"], data=lake["data"]), lockdown=False)
    cursor = store.cursor()
    start = time.perf_counter()
    for first in range(1, ROWS + 1, COMMIT_ROWS):
        cursor.execute(_FILL, [first, min(first + COMMIT_ROWS, ROWS + 1)])
    elapsed = time.perf_counter() - start
    with psycopg.connect(lake["writer"], autocommit=True) as conn:
        ids.move_past(conn, ROWS)
    return store, elapsed


def compact(lake: dict[str, str]) -> float:
    """The maintenance pass's compaction (`ducklake_merge_adjacent_files`) over the whole lake: seconds taken."""
    store = LakeStore(LakeConfig(catalog=lake["writer"], data=lake["data"]), lockdown=False)
    try:
        start = time.perf_counter()
        store.cursor().execute("SELECT * FROM ducklake_merge_adjacent_files('lake', 'request_logs')").fetchall()
        return time.perf_counter() - start
    finally:
        store.close()


def lookups(lake: dict[str, str], data: str) -> list[dict[str, Any]]:
    """Lookups by id on a query node's store: DuckLake's own read and the file index's, interleaved."""
    store = LakeStore(LakeConfig(catalog=lake["analyst"], data=lake["data"]), read_only=True)
    try:
        cursor = store.cursor()
        plan = cursor.execute(f"EXPLAIN ANALYZE SELECT * FROM request_logs WHERE id = {ROWS // 2 + 17}").fetchall()
        text = plan[0][1]
        ducklake_files = int(text.split("Total Files Read:")[1].split()[0]) if "Total Files Read:" in text else -1
        assert store.files is not None
        paths = {
            "DuckLake (catalog read each query)": lambda request_id: store_queries.get_values(cursor, request_id),
            "file index (lake/lookup.py)": store.get_values,
        }
        times: dict[str, list[float]] = {name: [] for name in paths}
        rng = random.Random(3)
        files_before = store.files.files_read
        for _ in range(100 if QUICK else 200):
            request_id = rng.randint(1, ROWS)
            for name, lookup in paths.items():
                start = time.perf_counter()
                assert lookup(request_id) is not None
                times[name].append(time.perf_counter() - start)
        index_files = (store.files.files_read - files_before) / len(times["file index (lake/lookup.py)"])
    finally:
        store.close()
    return [
        {
            "rows": ROWS,
            "data": data,
            "path": name,
            "files_read": ducklake_files if name.startswith("DuckLake") else index_files,
            "lookups": len(values),
            "p50_ms": median(values) * 1000,
            "p95_ms": percentile(values, 0.95) * 1000,
        }
        for name, values in times.items()
    ]


def routes(lake: dict[str, str], root: Path, token: str, data: str) -> list[dict[str, Any]]:
    # A generous SQL time limit: a slow route is measured, not refused (the service's default is 5 s).
    query = _node("query", lake, root, {"REQLOG_SQL_TIMEOUT": "600"})
    rng = random.Random(5)
    paths = {
        "retrieve": lambda: f"/api/metrics/request_logs/{rng.randint(1, ROWS)}",
        "list (newest)": lambda: "/api/metrics/request_logs",
        "list (status=500, route)": lambda: "/api/metrics/request_logs?status_code=500&route=%2Flogin",
        "stats by route": lambda: "/api/metrics/request_logs/stats?group_by=route",
    }
    rows = []
    try:
        for name, path in paths.items():
            times = []
            for _ in range(REPEATS):
                start = time.perf_counter()
                status, _ = query.request("GET", path(), headers={"Authorization": f"Token {token}"})
                times.append(time.perf_counter() - start)
                assert status == 200, (name, status)
            rows.append({"data": data, "route": name, "p50_s": median(times), "p95_s": percentile(times, 0.95)})
            print(rows[-1], file=sys.stderr, flush=True)  # progress: a 10M-row run takes a while
    finally:
        query.stop()
    return rows


def main() -> None:
    server = ThrowawayPostgres().start()
    root = Path(tempfile.mkdtemp(prefix="reqlog-bench-lake-"))
    try:
        ingest_rows, ratio = ingest(server, root)
        lake = _lake(server, root, "scale")
        store, fill_seconds = fill(lake)
        store.close()
        with PgAccountDB(lake["accounts"]) as accounts:
            accounts.create_account("analyst", is_staff=True, is_superuser=True)
            token = accounts.create_token("analyst")
        lookup_rows = lookups(lake, "as written")
        route_rows = routes(lake, root, token, "as written")
        compact_seconds = compact(lake)
        lookup_rows += lookups(lake, "compacted")
        route_rows += routes(lake, root, token, "compacted")
    finally:
        server.stop()
        subprocess.run(["rm", "-rf", str(root)], check=False)
    rows: list[dict[str, Any]] = [
        *ingest_rows,
        {"path": f"fill {ROWS:,} rows, {COMMIT_ROWS:,} a commit", "spans_per_s": ROWS / fill_seconds, "rounds": 1},
        {"path": f"compact {ROWS:,} rows (merge_adjacent_files)", "spans_per_s": ROWS / compact_seconds, "rounds": 1},
    ]
    report("lake_ingest", rows)
    report("lake_lookup", lookup_rows)
    indexed = max((row for row in lookup_rows if row["path"].startswith("file index")), key=lambda row: row["p50_ms"])
    goals = [
        {"goal": "lake writer / single file, OTLP spans/s", "value": ratio, "target": ">= 0.5", "ok": ratio >= 0.5},
        {
            "goal": f"files read by a lookup by id at {ROWS:,} rows (the slower of as written / compacted)",
            "value": indexed["files_read"],
            "target": "1",
            "ok": indexed["files_read"] == 1,
        },
        {"goal": "lookup by id p50 (ms)", "value": indexed["p50_ms"], "target": "<= 20", "ok": indexed["p50_ms"] <= 20},
    ]
    worst = max(row["p95_s"] for row in route_rows)
    goals.append(
        {"goal": f"slowest route p95 at {ROWS:,} rows (s)", "value": worst, "target": "<= 2", "ok": worst <= 2}
    )
    report("lake", route_rows, goals=goals)


if __name__ == "__main__":
    if "duckdb_extension_ducklake" not in sys.modules and not __import__("importlib").util.find_spec(
        "duckdb_extension_ducklake"
    ):
        raise SystemExit("bench/lake.py runs in the lake environment: .venv-lake/bin/python -m bench lake")
    main()
