"""Query-API read path on a 1,000,000-row database, every figure from the same run.

(a) storage ceiling: full-row lookups by random id per second, in-process, with the service's
    number of reader threads (`read_threads`), plus single-thread latency;
(b) HTTP ceiling: a static aiohttp endpoint returning the bytes of one rendered row;
(c) the service: `GET /api/metrics/request_logs/{id}` with token auth, random ids, 50 connections;
(d) the same for ids among the newest 10,000 rows (answered from the recent-rows cache).

Servers and the load generator run in separate processes and talk over 127.0.0.1 only; every
loop is bounded by a request count. Goals: (c) >= 0.8x (a); single-client p50 <= 3 ms and
p99 <= 10 ms for (c); (d) >= 0.5x (b). The database is built once per size and reused
(`/tmp/reqlog-bench/api-<rows>.duckdb`). REQLOG_BENCH_QUICK=1 uses 100,000 rows and fewer requests.

The modules: `api_database` (the file), `api_storage` ((a)), `api_servers` ((b), (c), (d)),
`api_load` (the load generator); this one runs the rounds and reports.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.api_database import build_database
from bench.api_load import generate_load, load
from bench.api_servers import Server, serve_service, serve_static
from bench.api_storage import batched_storage, storage_ceiling
from bench.common import QUICK, median, report
from exporter.store import SERVICE_DUCKDB_CONFIG, RequestLogStore

ROWS = 100_000 if QUICK else 1_000_000
REQUESTS = 3_000 if QUICK else 18_000  # per case, split over the rounds
LATENCY_REQUESTS = 600 if QUICK else 3_000
CONNECTIONS = 50
ROUNDS = 3
NEWEST = 10_000
READ_THREADS = 4  # ServiceSettings.read_threads' default: the service's reader pool


def main() -> None:
    from exporter.row import render_json
    from query_api.accounts.db import AccountDB

    path = build_database(ROWS)
    # (a) needs its own copy: the service process holds `path` while it runs, and the machine is
    # shared, so (a) and (c), (b) and (d) are measured in alternating rounds and compared per round.
    twin = path.with_name(path.stem + "-twin.duckdb")
    shutil.copyfile(path, twin)
    store = RequestLogStore(path, config=SERVICE_DUCKDB_CONFIG)
    try:
        sample = render_json(store.get_values(ROWS) or ())
    finally:
        store.close()
    per_round = REQUESTS // ROUNDS
    a, a_batched, b, c, d, single = [], [], [], [], [], []
    with tempfile.TemporaryDirectory(prefix="reqlog-bench-") as tmp:
        body_file = Path(tmp) / "row.json"
        body_file.write_bytes(sample)
        accounts = Path(tmp) / "accounts.sqlite3"
        with AccountDB(accounts) as db:
            db.create_account("bench", is_staff=True, is_superuser=True)
            token = db.create_token("bench")
        static = Server("static", str(body_file))
        service = Server("service", str(path), str(accounts))
        try:
            for _ in range(ROUNDS):
                a.append(storage_ceiling(twin, ROWS, READ_THREADS, max(100, per_round // READ_THREADS)))
                a_batched.append(batched_storage(twin, ROWS, READ_THREADS, max(100, per_round // READ_THREADS)))
                c.append(load(service.port, token, 1, ROWS, per_round, CONNECTIONS))
                b.append(load(static.port, "", 1, ROWS, per_round, CONNECTIONS))
                d.append(load(service.port, token, ROWS - NEWEST + 1, ROWS, per_round, CONNECTIONS))
                single.append(load(service.port, token, 1, ROWS, LATENCY_REQUESTS // ROUNDS, 1))
        finally:
            static.stop()
            service.stop()
            twin.unlink(missing_ok=True)
    rows = [
        _row(f"(a) store, {READ_THREADS} threads, in-process", a),
        _row(f"(a') store, {READ_THREADS} threads, 8 ids a query (reference)", a_batched),
        _row("(b) static aiohttp, 50 conns", b),
        _row("(c) service, random ids, 50 conns", c),
        _row("(c) service, random ids, 1 client", single),
        _row(f"(d) service, newest {NEWEST:,}, 50 conns", d),
    ]
    c_over_a = median([ci["rate"] / ai["rate"] for ai, ci in zip(a, c, strict=True)])
    d_over_b = median([di["rate"] / bi["rate"] for bi, di in zip(b, d, strict=True)])
    p50 = median([s["p50_ms"] for s in single])
    p99 = median([s["p99_ms"] for s in single])
    failures = sum(int(m["failures"]) for m in b + c + d + single)
    goals = [
        {"goal": "(c) / (a), median of rounds", "value": c_over_a, "target": ">= 0.8", "ok": c_over_a >= 0.8},
        {"goal": "(c) single-client p50 ms", "value": p50, "target": "<= 3", "ok": p50 <= 3},
        {"goal": "(c) single-client p99 ms", "value": p99, "target": "<= 10", "ok": p99 <= 10},
        {"goal": "(d) / (b), median of rounds", "value": d_over_b, "target": ">= 0.5", "ok": d_over_b >= 0.5},
        {"goal": "non-200 answers", "value": failures, "target": "0", "ok": failures == 0},
    ]
    report("api", rows, goals=goals)


def _row(case: str, rounds: list[dict[str, float]]) -> dict[str, Any]:
    """Medians over the rounds, plus the spread of the rate (the machine is shared and noisy)."""
    rates = [r["rate"] for r in rounds]
    return {
        "case": case,
        "req_per_s": median(rates),
        "min_rate": min(rates),
        "max_rate": max(rates),
        "p50_ms": median([r["p50_ms"] for r in rounds]),
        "p99_ms": median([r["p99_ms"] for r in rounds]),
    }


def _entry(argv: list[str]) -> None:
    if argv and argv[0] == "_serve":
        kind, port = argv[1], int(argv[2])
        if kind == "static":
            serve_static(port, argv[3])
        else:
            serve_service(port, argv[3], argv[4])
    elif argv and argv[0] == "_load":
        port, token, low, high, requests, connections = argv[1:7]
        result = asyncio.run(
            generate_load(
                int(port), "" if token == "-" else token, int(low), int(high), int(requests), int(connections)
            )
        )
        print(json.dumps(result))
    else:
        main()


if __name__ == "__main__":
    _entry(sys.argv[1:])
