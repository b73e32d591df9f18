"""The request-log file `bench/api.py` reads: built once per size from realistic rows, then reused.

Rows are shaped like real traffic (~1.5 KB of headers, JSON bodies, users, some exceptions) and
inserted through Arrow in batches; the file is kept in CACHE_DIR (`/tmp/reqlog-bench/api-<rows>.duckdb`).
"""

from __future__ import annotations

import os
import random
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa

from exporter.row import RequestLog
from exporter.store import RequestLogStore, rows_to_arrow

BATCH = 10_000
CACHE_DIR = Path(os.environ.get("REQLOG_BENCH_CACHE", "/tmp/reqlog-bench"))


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
