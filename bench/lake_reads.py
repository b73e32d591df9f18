"""Reads at scale (`bench/lake.py`, parts 2 and 3): lookups by id on a query node's store, and
per-route times over HTTP on a query node.
"""

from __future__ import annotations

import random
import sys
import time
from pathlib import Path
from typing import Any

from bench.common import QUICK, median, percentile
from bench.lake_data import ROWS, start_node
from exporter import store_queries
from exporter.lake import LakeConfig, LakeStore

REPEATS = 5 if QUICK else 20 if ROWS <= 1_000_000 else 10  # requests per route


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
    query = start_node("query", lake, root, {"REQLOG_SQL_TIMEOUT": "600"})
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
