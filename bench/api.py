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
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa

from bench.common import QUICK, median, percentile, report
from exporter.row import RequestLog
from exporter.store import SERVICE_DUCKDB_CONFIG, RequestLogStore, rows_to_arrow

ROWS = 100_000 if QUICK else 1_000_000
REQUESTS = 3_000 if QUICK else 18_000  # per case, split over the rounds
LATENCY_REQUESTS = 600 if QUICK else 3_000
CONNECTIONS = 50
ROUNDS = 3
NEWEST = 10_000
BATCH = 10_000
CACHE_DIR = Path(os.environ.get("REQLOG_BENCH_CACHE", "/tmp/reqlog-bench"))
READ_THREADS = 4  # ServiceSettings.read_threads' default: the service's reader pool


# -- the database ----------------------------------------------------------------------------


def build_database(rows: int) -> Path:
    """A `rows`-row request-log file, built once (realistic rows from real SDK spans, via Arrow)."""
    path = CACHE_DIR / f"api-{rows}.duckdb"
    if path.exists():
        store = RequestLogStore(path)
        try:
            if store.count() == rows:
                return path
        finally:
            store.close()
        path.unlink()
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    templates = rows_to_arrow(_template_rows(1_000))
    started = time.perf_counter()
    store = RequestLogStore(path, checkpoint_threshold="1GB")
    try:
        base = templates.column("started_at").to_pylist()[0]
        for offset in range(0, rows, BATCH):
            count = min(BATCH, rows - offset)
            batch = templates.take(pa.array([(offset + i) % templates.num_rows for i in range(count)]))
            numbers = range(offset, offset + count)
            starts = [base.replace(microsecond=0) + _seconds(n) for n in numbers]
            batch = _set(batch, "trace_id", pa.array([f"{n:032x}" for n in numbers]))
            batch = _set(batch, "span_id", pa.array([f"{n + 1:016x}" for n in numbers]))
            batch = _set(batch, "started_at", pa.array(starts, type=pa.timestamp("us")))
            batch = _set(batch, "finished_at", pa.array([s + _seconds(0.05) for s in starts], type=pa.timestamp("us")))
            _insert_quickly(store, batch)
        store.cursor().execute("CHECKPOINT")
    finally:
        store.close()
    print(f"built {path} ({rows:,} rows) in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return path


def _template_rows(count: int) -> list[RequestLog]:
    """Rows shaped like real traffic: ~1.5 KB of headers, JSON bodies, users, some exceptions."""
    rng = random.Random(3)
    agents = [
        ("Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:145.0) Gecko/20100101 Firefox/145.0", "pc", "Windows",
         "Firefox"),
        ("Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148", "mobile", "iOS",
         "Mobile Safari"),
        ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", "pc", "Other", "Googlebot"),
    ]  # fmt: skip
    out = []
    for i in range(count):
        agent, device_type, os_name, browser = rng.choice(agents)
        route = rng.choice(["/api/orders", "/api/orders/{id}", "/api/users/{id}", "/login", "/api/search"])
        body = {"items": [{"sku": f"SKU-{n}", "qty": n} for n in range(rng.randrange(1, 12))], "note": "x" * 300}
        headers = {
            "Host": "shop.example", "User-Agent": agent, "Accept": "application/json",
            "Accept-Encoding": "gzip, deflate, br, zstd", "Accept-Language": "en-US,en;q=0.5",
            "Connection": "keep-alive", "Content-Type": "application/json", "Cookie": "[REDACTED]",
            "Authorization": "[REDACTED]", "Sec-Fetch-Mode": "cors", "X-Request-Id": f"{rng.getrandbits(128):032x}",
            "Traceparent": f"00-{rng.getrandbits(128):032x}-{rng.getrandbits(64):016x}-01",
        }  # fmt: skip
        failed = i % 25 == 0
        out.append(
            RequestLog(
                user_id=str(i % 500) if i % 3 else None,
                username=f"user{i % 500}" if i % 3 else None,
                user_full_name=f"User {i % 500}" if i % 3 else None,
                ip=f"10.{i % 256}.{rng.randrange(256)}.{rng.randrange(1, 255)}",
                device="Other",
                device_type=device_type,
                is_bot=browser == "Googlebot",
                os=os_name,
                browser=browser,
                scheme="https",
                endpoint=route.replace("{id}", str(rng.randrange(1, 10_000))),
                method=rng.choice(["GET", "GET", "POST"]),
                status_code=500 if failed else rng.choice([200, 200, 201, 302, 404]),
                exception_type="KeyError" if failed else None,
                started_at=datetime(2025, 11, 19, 14, 0, 0),
                finished_at=datetime(2025, 11, 19, 14, 0, 0),
                duration=round(rng.random(), 6),
                query_params=orjson.dumps({"page": str(i % 7), "tag": ["a", "b"]}).decode(),
                body=orjson.dumps(body).decode(),
                response=orjson.dumps({"ok": not failed, "items": body["items"]}).decode(),
                request_headers=orjson.dumps(headers).decode(),
                response_headers=orjson.dumps(
                    {
                        "Content-Type": "application/json",
                        "Vary": "Cookie",
                        "Cache-Control": "no-store",
                        "X-Frame-Options": "DENY",
                    }
                ).decode(),
                exception_message=f"'order {i}'" if failed else None,
                exception_traceback=("Traceback (most recent call last):\n" + "  File ...\n" * 20) if failed else None,
                service_name="bench-shop",
                route=route,
            )
        )
    return out


def _seconds(value: float) -> Any:
    from datetime import timedelta

    return timedelta(seconds=value)


def _insert_quickly(store: RequestLogStore, batch: pa.Table) -> None:
    try:
        store.insert_arrow(batch, returning=False)  # type: ignore[call-arg]
    except TypeError:  # a store without the option: the same insert, its stored rows returned
        store.insert_arrow(batch)


def _set(table: pa.Table, name: str, array: pa.Array) -> pa.Table:
    return table.set_column(table.schema.get_field_index(name), name, array)


# -- (a) the storage ceiling -----------------------------------------------------------------


def _run_threads(worker: Callable[[int], None], threads: int) -> float:
    """Run `worker(seed)` on `threads` threads at once; the seconds until all have finished."""
    pool = [threading.Thread(target=worker, args=(t,)) for t in range(threads)]
    begin = time.perf_counter()
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return time.perf_counter() - begin


def batched_storage(path: Path, rows: int, threads: int, per_thread: int, batch: int = 8) -> dict[str, float]:
    """For reference beside (a): lookups per second when each store query fetches `batch` ids, as the
    service's `RowFetcher` does under concurrent load."""
    store = RequestLogStore(path, config=SERVICE_DUCKDB_CONFIG)
    try:

        def worker(seed: int) -> None:
            local = random.Random(seed)
            for _ in range(max(1, per_thread // batch)):
                store.get_many_values([local.randint(1, rows) for _ in range(batch)])

        done = threads * max(1, per_thread // batch) * batch
        return {"rate": done / _run_threads(worker, threads), "p50_ms": float("nan"), "p99_ms": float("nan")}
    finally:
        store.close()


def storage_ceiling(path: Path, rows: int, threads: int, per_thread: int) -> dict[str, float]:
    """Lookups per second with `threads` threads, and single-thread latency, straight from the store."""
    store = RequestLogStore(path, config=SERVICE_DUCKDB_CONFIG)
    try:
        latencies = []
        rng = random.Random(len(path.name))
        for _ in range(300):
            request_id = rng.randint(1, rows)
            begin = time.perf_counter()
            assert store.get_values(request_id) is not None
            latencies.append(time.perf_counter() - begin)

        def worker(seed: int) -> None:
            local = random.Random(seed)
            for _ in range(per_thread):
                store.get_values(local.randint(1, rows))

        return {
            "rate": threads * per_thread / _run_threads(worker, threads),
            "p50_ms": percentile(latencies, 0.5) * 1e3,
            "p99_ms": percentile(latencies, 0.99) * 1e3,
        }
    finally:
        store.close()


# -- servers (run as `python -m bench.api _serve ...`) ----------------------------------------


def _serve_static(port: int, body_file: str) -> None:
    from aiohttp import web

    body = Path(body_file).read_bytes()

    async def handler(request: web.Request) -> web.Response:
        return web.Response(body=body, content_type="application/json")

    app = web.Application()
    app.router.add_get("/api/metrics/request_logs/{id}", handler)
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)


def _serve_service(port: int, db: str, accounts: str) -> None:
    from aiohttp import web

    from query_api import ServiceSettings, create_app

    settings = ServiceSettings.from_env({}, db=Path(db), accounts_db=Path(accounts), port=port)
    web.run_app(create_app(settings), host="127.0.0.1", port=port, access_log=None, print=None)


class Server:
    def __init__(self, *args: str) -> None:
        self.port = _free_port()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bench.api", "_serve", args[0], str(self.port), *args[1:]]
        )
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}/api/metrics/request_logs/1", timeout=5).close()
                break
            except urllib.error.HTTPError:
                break  # it answers (401 without a token): ready
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("server did not start") from None
                time.sleep(0.1)

    def stop(self) -> None:
        self.process.send_signal(signal.SIGINT)
        self.process.wait(timeout=60)


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- the load generator (run as `python -m bench.api _load ...`) -------------------------------


async def _load(port: int, token: str, low: int, high: int, requests: int, connections: int) -> dict[str, float]:
    """`requests` GETs of random ids over `connections` keep-alive connections; rate and latency.

    A bare HTTP/1.1 client on asyncio streams rather than aiohttp's: the generator shares the two
    cores with the server it measures, and at ~40 us a request instead of ~150 it leaves the server
    what it would have against a separate load machine (wrk does the same in C).
    """
    auth = f"Authorization: Token {token}\r\n" if token else ""
    rng = random.Random(7)
    ids = [rng.randint(low, high) for _ in range(requests)]
    latencies: list[float] = []
    failures = 0

    async def worker(share: list[int]) -> None:
        nonlocal failures
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            for request_id in share:
                begin = time.perf_counter()
                writer.write(
                    f"GET /api/metrics/request_logs/{request_id} HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}\r\n".encode()
                )
                head = await reader.readuntil(b"\r\n\r\n")
                failures += not head.startswith(b"HTTP/1.1 200 ")
                length = int(head.lower().split(b"content-length:", 1)[1].split(b"\r\n", 1)[0])
                await reader.readexactly(length)
                latencies.append(time.perf_counter() - begin)
        finally:
            writer.close()
            await writer.wait_closed()

    warm = ids[: min(200, len(ids))]
    await asyncio.gather(*(worker(warm[i::connections]) for i in range(connections)))
    latencies.clear()
    begin = time.perf_counter()
    await asyncio.gather(*(worker(ids[i::connections]) for i in range(connections)))
    elapsed = time.perf_counter() - begin
    return {
        "rate": requests / elapsed,
        "p50_ms": percentile(latencies, 0.5) * 1e3,
        "p99_ms": percentile(latencies, 0.99) * 1e3,
        "failures": failures,
    }


def load(port: int, token: str, low: int, high: int, requests: int, connections: int) -> dict[str, float]:
    args = [str(port), token or "-", str(low), str(high), str(requests), str(connections)]
    done = subprocess.run([sys.executable, "-m", "bench.api", "_load", *args], capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(done.stderr)
    return json.loads(done.stdout)


# -- the run ---------------------------------------------------------------------------------


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
            _serve_static(port, argv[3])
        else:
            _serve_service(port, argv[3], argv[4])
    elif argv and argv[0] == "_load":
        port, token, low, high, requests, connections = argv[1:7]
        result = asyncio.run(
            _load(int(port), "" if token == "-" else token, int(low), int(high), int(requests), int(connections))
        )
        print(json.dumps(result))
    else:
        main()


if __name__ == "__main__":
    _entry(sys.argv[1:])
