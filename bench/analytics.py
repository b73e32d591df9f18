"""Analytics at scale: per-route p95 over 1M and 10M generated rows, on the DuckDB table and on the
exported Parquet, in the same run; bytes per row on disk against the JSON-lines size of the same rows.

Rows are generated inside DuckDB (`range()` plus expressions, on a connection of its own that is not
sandboxed) into a file created by `RequestLogStore`, so the schema, compression and views are the
real ones. They look like real traffic: ~200 route templates, ids in paths, a lognormal latency,
1.7 KB of request headers with per-row cookies, ids and dates, bodies on writes, 1% exceptions with
tracebacks. Queries then run on a read-only connection with the service's sandbox settings, and
the export is `query_api.housekeeping.export.export_from` (pyarrow, zstd, Hive partitions by day).

Goals (issue 6): per-route p95 <= 1 s at 10M rows; the DuckDB file <= 15% of the JSON-lines size.
`python -m bench analytics`; REQLOG_BENCH_QUICK=1 runs 100k and 1M rows only.
"""

# ruff: noqa: E501 (real user-agent strings and the generator's SQL read best unbroken)
from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import duckdb

from bench.common import QUICK, median, report
from exporter.analytics import stats_query
from exporter.row import COLUMN_NAMES, render_json
from exporter.store import SERVICE_DUCKDB_CONFIG, RequestLogStore
from query_api.housekeeping.export import export_from

SIZES = (100_000, 1_000_000) if QUICK else (1_000_000, 10_000_000)
MEMORY_LIMIT = "2GB"  # for the queries and the export
BUILD_MEMORY_LIMIT = "6GB"
BUILD_CHUNK = 1_000_000
ROUNDS = 5
P95_PER_ROUTE = (
    "SELECT coalesce(route, endpoint) AS route, quantile_cont(duration, 0.95) AS p95 FROM {source} GROUP BY 1"
)

_AGENTS = [
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:145.0) Gecko/20100101 Firefox/145.0", "Firefox", "Windows", "pc"),
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/142.0.0.0 Safari/537.36",
        "Chrome",
        "Windows",
        "pc",
    ),
    (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
        "Safari",
        "Mac OS X",
        "pc",
    ),
    (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
        "Mobile Safari",
        "iOS",
        "mobile",
    ),
    (
        "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/142.0.0.0 Mobile Safari/537.36",
        "Chrome Mobile",
        "Android",
        "mobile",
    ),
    (
        "Mozilla/5.0 (iPad; CPU OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
        "Mobile Safari",
        "iOS",
        "tablet",
    ),
    ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", "Googlebot", "Other", "pc"),
    ("python-requests/2.32.3", "Python Requests", "Other", "pc"),
]
_RESOURCES = ["users", "orders", "items", "carts", "search", "auth", "admin", "reports", "invoices", "webhooks"]
_EXCEPTIONS = ["builtins.ValueError", "builtins.KeyError", "django.db.utils.OperationalError", "TimeoutError"]


def _list(values: list[str]) -> str:
    return "[" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + "]"


def _generate_sql(rows: int, start: int, stop: int) -> str:
    step_us = 30 * 86_400 * 1_000_000 // rows  # 30 days of traffic, in id order like real inserts
    agents, browsers, systems, devices = (_list([a[k] for a in _AGENTS]) for k in range(4))
    return f"""
WITH base AS (
    SELECT range AS i, CAST(hash(range) >> 1 AS BIGINT) AS h, random() AS u1, random() AS u2 FROM range({start}, {stop})
), g AS (
    SELECT *,
        h % 200 AS route_no,
        (h >> 8) % 1000 AS r1000,
        1 + (h >> 20) % {len(_AGENTS)} AS ua_no,
        exp(-3.5 + 0.9 * sqrt(-2 * ln(greatest(u1, 1e-12))) * cos(2 * pi() * u2)) AS dur,
        make_timestamp(1761955200000000 + i * {step_us}) AS t0
    FROM base
), r AS (
    SELECT *,
        '/api/' || {_list(_RESOURCES)}[1 + route_no % {len(_RESOURCES)}] || '/' || (route_no // 10)
            || CASE WHEN route_no % 3 = 0 THEN '/{{id}}' ELSE '' END AS route_t,
        CASE WHEN r1000 < 10 THEN 500 WHEN r1000 < 40 THEN 404 WHEN r1000 < 60 THEN 302
             WHEN r1000 < 120 THEN 201 ELSE 200 END AS status,
        CASE WHEN r1000 % 5 = 1 THEN 'POST' WHEN r1000 % 17 = 2 THEN 'DELETE' ELSE 'GET' END AS verb,
        md5(CAST(h AS VARCHAR)) AS rnd,
        -- A browser keeps its cookies across requests: one session per user, or per client for anonymous ones.
        md5('session' || CASE WHEN r1000 < 600 THEN h % 50000 ELSE 100000 + (h >> 24) % 200000 END) AS session
    FROM g
)
INSERT INTO request_log_rows (
    user_id, username, user_full_name, ip, device, device_type, is_bot, os, browser, scheme, endpoint, method,
    status_code, exception_type, started_at, finished_at, duration, created_at, updated_at, query_params, body,
    response, request_headers, response_headers, exception_message, exception_traceback, trace_id, span_id,
    service_name, route, request_body_size, response_body_size, request_body_truncated, response_body_truncated,
    span_key
)
SELECT
    CASE WHEN r1000 < 600 THEN CAST(h % 50000 AS VARCHAR) END,
    CASE WHEN r1000 < 600 THEN 'user' || (h % 50000) END,
    CASE WHEN r1000 < 600 THEN 'User Number ' || (h % 50000) END,
    '10.' || ((h >> 24) % 256) || '.' || ((h >> 32) % 256) || '.' || ((h >> 40) % 256),
    'Other',
    {devices}[ua_no],
    ua_no = 7,
    {systems}[ua_no],
    {browsers}[ua_no],
    'https',
    replace(route_t, '{{id}}', CAST((h >> 12) % 100000 AS VARCHAR)),
    verb,
    status,
    CASE WHEN status = 500 THEN {_list(_EXCEPTIONS)}[1 + (h >> 5) % {len(_EXCEPTIONS)}] END,
    t0,
    t0 + to_microseconds(CAST(dur * 1e6 AS BIGINT)),
    round(dur, 6),
    t0 + to_microseconds(CAST(dur * 1e6 AS BIGINT) + 300),
    t0 + to_microseconds(CAST(dur * 1e6 AS BIGINT) + 303),
    CASE WHEN r1000 % 4 = 0 THEN '{{"page": "' || (r1000 % 20) || '", "sort": "-created_at"}}' ELSE '{{}}' END::JSON,
    CASE WHEN verb = 'POST' THEN '{{"name": "item ' || i || '", "quantity": ' || (h % 10) || ', "note": null}}' END::JSON,
    CASE WHEN status < 300 THEN '{{"id": ' || i || ', "status": "ok", "items": [' || (h % 97) || ', ' || (h % 89) || ']}}'
         WHEN status = 404 THEN '{{"detail": "Not found."}}' END::JSON,
    ('{{"Host": "shop.example.com", "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", '
     || '"Cookie": "csrftoken=' || session || '; sessionid=' || md5(session) || '", "Priority": "u=0, i", '
     || '"Connection": "keep-alive", "User-Agent": "' || {agents}[ua_no] || '", '
     || '"Content-Type": "application/json", "Content-Length": "' || (h % 2000) || '", '
     || '"Sec-Fetch-Dest": "document", "Sec-Fetch-Mode": "navigate", "Sec-Fetch-Site": "none", '
     || '"Sec-Fetch-User": "?1", "Accept-Encoding": "gzip, deflate, br, zstd", "Accept-Language": "en-US,en;q=0.5", '
     || '"Upgrade-Insecure-Requests": "1", "X-Request-Id": "' || substr(md5(rnd || 'x'), 1, 32) || '", '
     || '"X-Forwarded-For": "203.0.113.' || (h % 255) || '", "Referer": "https://shop.example.com' || route_t || '"}}')::JSON,
    ('{{"Vary": "Accept-Language, Cookie", "Expires": "' || strftime(t0, '%a, %d %b %Y %H:%M:%S GMT') || '", '
     || '"Content-Type": "application/json", "Cache-Control": "max-age=0, no-cache, no-store, must-revalidate, private", '
     || '"Content-Length": "' || (h % 5000) || '", "Referrer-Policy": "same-origin", "X-Frame-Options": "DENY", '
     || '"X-Content-Type-Options": "nosniff", "Cross-Origin-Opener-Policy": "same-origin", '
     || '"Server-Timing": "total;dur=' || round(dur * 1000, 3) || ', db;dur=' || round(dur * 400, 3) || '"}}')::JSON,
    CASE WHEN status = 500 THEN 'invalid literal for int() with base 10: ''' || (h % 1000) || '''' END,
    CASE WHEN status = 500 THEN 'Traceback (most recent call last):\n'
        || '  File "/app/.venv/lib/python3.12/site-packages/django/core/handlers/exception.py", line 55, in inner\n'
        || '    response = get_response(request)\n'
        || '  File "/app/.venv/lib/python3.12/site-packages/django/core/handlers/base.py", line 197, in _get_response\n'
        || '    response = wrapped_callback(request, *callback_args, **callback_kwargs)\n'
        || '  File "/app/shop/views/' || {_list(_RESOURCES)}[1 + route_no % {len(_RESOURCES)}] || '.py", line '
        || (10 + h % 300) || ', in dispatch\n    value = int(request.GET["page"])\n'
        || 'ValueError: invalid literal for int() with base 10: ''' || (h % 1000) || '''\n' END,
    rnd,
    substr(md5(rnd), 1, 16),
    'shop',
    route_t,
    CASE WHEN verb = 'POST' THEN 40 + h % 60 END,
    CASE WHEN status < 300 THEN 50 + h % 40 END,
    false,
    false,
    hash(rnd, substr(md5(rnd), 1, 16))  -- the store's dedupe key, as exporter.schema.SPAN_KEY_SQL computes it
FROM r
"""


def _build(path: Path, rows: int) -> dict[str, Any]:
    RequestLogStore(path, memory_limit=MEMORY_LIMIT).close()  # the real schema, compression and views
    # The unique indexes are built in memory at commit: insert in chunks, with room for them.
    con = duckdb.connect(str(path), config={"memory_limit": BUILD_MEMORY_LIMIT, "preserve_insertion_order": False})
    try:
        start = time.perf_counter()
        for first in range(0, rows, BUILD_CHUNK):
            con.execute(_generate_sql(rows, first, min(rows, first + BUILD_CHUNK)))
        con.execute("CHECKPOINT")
        build_s = time.perf_counter() - start
        # The JSON-lines size of the same rows, measured exactly (one JSON object per row plus "\n").
        # The JSON-lines size of the same rows: one JSON object per row plus "\n", averaged over a 10%
        # sample (rendering all 10M rows costs a minute and changes the mean by nothing that shows).
        jsonl_per_row = con.execute(
            "SELECT avg(strlen(CAST(to_json(t) AS VARCHAR)) + 1) FROM request_logs t USING SAMPLE 10 PERCENT (system)"
        ).fetchall()[0][0]
        # The file holds live blocks and a free list (blocks that checkpoints released and new rows reuse).
        _, _, block_size, total_blocks, used_blocks, free_blocks, *_ = con.execute("PRAGMA database_size").fetchall()[0]
        # Cross-check against the API's own rendering of a sample (`render_json`, what clients receive).
        sample = con.execute(f"SELECT {', '.join(COLUMN_NAMES)} FROM request_logs USING SAMPLE 2000 ROWS").fetchall()
    finally:
        con.close()
    api_bytes_per_row = sum(len(render_json(values)) + 1 for values in sample) / len(sample)
    return {
        "build_s": build_s,
        "jsonl_bytes": jsonl_per_row * rows,
        "db_bytes": _size(path),
        "used_bytes": used_blocks * block_size,
        "free_blocks_share": free_blocks / max(1, total_blocks),
        "api_B_per_row": api_bytes_per_row,
    }


def _size(path: Path) -> int:
    return sum(p.stat().st_size for p in [path, Path(str(path) + ".wal")] if p.exists())


def _timed(con: duckdb.DuckDBPyConnection, sql: str) -> float:
    times = []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        con.execute(sql).fetchall()
        times.append(time.perf_counter() - start)
    return median(times)


def _measure(work: Path, rows: int) -> list[dict[str, Any]]:
    path = work / f"logs_{rows}.duckdb"
    built = _build(path, rows)
    store = RequestLogStore(path, read_only=True, config={**SERVICE_DUCKDB_CONFIG, "memory_limit": MEMORY_LIMIT})
    con = store.cursor()
    try:
        routes = con.execute("SELECT count(DISTINCT coalesce(route, endpoint)) FROM request_logs").fetchall()[0][0]
        p95_table = _timed(con, P95_PER_ROUTE.format(source="request_logs"))
        stats_sql, params = stats_query("route", limit=1000)
        stats_table = _timed(con, stats_sql.replace("?", str(params[0])))
        out = work / f"parquet_{rows}"
        start = time.perf_counter()
        export_from(store, out)
        export_s = time.perf_counter() - start
    finally:
        store.close()
    parquet_bytes = sum(p.stat().st_size for p in out.rglob("*.parquet"))
    reader = duckdb.connect(config={"memory_limit": MEMORY_LIMIT})
    try:
        source = f"read_parquet('{out}/**/*.parquet', hive_partitioning = true)"
        p95_parquet = _timed(reader, P95_PER_ROUTE.format(source=source))
    finally:
        reader.close()
    path.unlink()
    Path(str(path) + ".wal").unlink(missing_ok=True)
    shutil.rmtree(out)
    per_row = {name: built[f"{name}_bytes"] / rows for name in ("jsonl", "db", "used")}
    return [
        {
            "rows": rows,
            "routes": routes,
            "p95_per_route_table_s": p95_table,
            "p95_per_route_parquet_s": p95_parquet,
            "parquet_vs_table": p95_parquet / p95_table,
            "stats_query_table_s": stats_table,
            "jsonl_B_per_row": per_row["jsonl"],
            "api_json_B_per_row": built["api_B_per_row"],
            "duckdb_B_per_row": per_row["db"],
            "duckdb_live_B_per_row": per_row["used"],
            "free_list_share": built["free_blocks_share"],
            "parquet_B_per_row": parquet_bytes / rows,
            "duckdb_vs_jsonl": per_row["db"] / per_row["jsonl"],
            "build_rows_per_s": rows / built["build_s"],
            "export_rows_per_s": rows / export_s,
        }
    ]


def main() -> None:
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="reqlog-analytics-") as tmp:
        for rows in SIZES:
            results.extend(_measure(Path(tmp), rows))
            print(f"{rows:,} rows measured", flush=True)
    largest = results[-1]
    goals = [
        {
            "goal": f"per-route p95 at {largest['rows']:,} rows (DuckDB table, median of {ROUNDS})",
            "value": largest["p95_per_route_table_s"],
            "target": "<= 1 s at 10M rows",
            "ok": largest["p95_per_route_table_s"] <= 1.0,
        },
        {
            "goal": "DuckDB file size / JSON-lines size",
            "value": largest["duckdb_vs_jsonl"],
            "target": "<= 0.15",
            "ok": largest["duckdb_vs_jsonl"] <= 0.15,
        },
    ]
    report("analytics", results, goals=goals)


if __name__ == "__main__":
    main()
