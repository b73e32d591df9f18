"""The lakes `bench/lake.py` runs on: provisioned on the throwaway PostgreSQL, its nodes, its rows.

A lake is provisioned per use (its catalog and accounts databases, with the roles' passwords), its
data on the local disk; nodes are `reqlog serve` processes in a role; the big lake is filled with
synthetic rows in SQL, one commit per COMMIT_ROWS, and compacted as the maintenance pass does.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import psycopg

from bench.common import QUICK
from exporter.lake import LakeConfig, LakeStore, ids
from exporter.lake.provision import provision
from exporter.row import iter_columns
from tests.lake.nodes import Node
from tests.lake.postgres import ThrowawayPostgres

ROWS = int(os.environ.get("REQLOG_BENCH_LAKE_ROWS", "100000" if QUICK else "1000000"))
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


def make_lake(server: ThrowawayPostgres, root: Path, name: str) -> dict[str, str]:
    provision(server.dsn(), f"{name}_lake", f"{name}_accounts", PASSWORDS)
    return {
        "writer": server.dsn(f"{name}_lake", "reqlog_writer", PASSWORDS["reqlog_writer"]),
        "analyst": server.dsn(f"{name}_lake", "reqlog_analyst", PASSWORDS["reqlog_analyst"]),
        "accounts": server.dsn(f"{name}_accounts", "reqlog_accounts", PASSWORDS["reqlog_accounts"]),
        "data": str(root / name),
    }


def start_node(role: str, lake: dict[str, str], root: Path, extra: dict[str, str] | None = None) -> Node:
    env = {
        "REQLOG_LAKE_CATALOG": lake["writer" if role != "query" else "analyst"],
        "REQLOG_LAKE_DATA": lake["data"],
        "REQLOG_LAKE_ACCOUNTS": lake["accounts"],
        **(extra or {}),
    }
    node = Node(role, env, root / f"{role}.log").start()
    node.wait_ready()
    return node


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
