"""OTLP ingest throughput: protobuf POSTs to `reqlog serve` -> committed rows, against the in-process exporter.

The same realistic request spans (`bench.spans`) go two ways in one run:

- in-process: `DuckDBSpanExporter.export` in batches of 512 (what a BatchSpanProcessor does), one
  thread, flatten + Arrow + one transaction per batch: the baseline;
- OTLP: `reqlog serve` started as a user starts it (a subprocess on a fresh data directory),
  several concurrent clients on loopback each POSTing pre-encoded `ExportTraceServiceRequest`s of
  512 spans with an ingest token; a 2xx means the rows are committed, so the clock stops at the
  last answer. Answer latency p50/p99 is per request. It runs twice: as configured by default, and
  with the API's cache of recent rows off (`REQLOG_RECENT_CACHE_BYTES=0`), which shows what filling
  that cache costs ingest (RETURNING every column, then rendering each row's JSON on the writer).

Then, in this process, where a batch's time goes on the OTLP path: protobuf parse, attribute
access, flattening, the Arrow build and the insert. Goals (issue 5): >= 10,000 spans/s end to end
and >= 0.7x the in-process path.

    make bench            # or: .venv/bin/python -m bench ingest   (REQLOG_BENCH_QUICK=1: smaller)
"""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

from bench.common import QUICK, median, percentile, report
from bench.spans import make_spans
from exporter import DuckDBSpanExporter, Redactor, RequestLogStore
from exporter import otlp as otlp_decoder
from exporter.otlp_wire import LeanExportTraceServiceRequest
from exporter.store import values_to_arrow
from exporter.useragent import warm_up
from query_api.accounts.db import AccountDB
from query_api.auth import PERM_INGEST

BATCH = 512
CLIENTS = 4
START_TIMEOUT = 60.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Service:
    """`reqlog serve` on a fresh data directory, with an ingest-only account."""

    def __init__(self, data: Path, env: dict[str, str] | None = None) -> None:
        self.db = data / "reqlog.duckdb"
        self.port = _free_port()
        with AccountDB(data / "accounts.sqlite3") as accounts:
            accounts.create_account("collector", permissions=[PERM_INGEST])
            self.token = accounts.create_token("collector")
        self._log = (data / "serve.log").open("w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "query_api.cli", "serve", "--db", str(self.db), "--port", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=self._log,
            env={**os.environ, "REQLOG_ACCOUNTS_DB": str(data / "accounts.sqlite3"), **(env or {})},
        )
        deadline = time.monotonic() + START_TIMEOUT
        while not self._ready():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"reqlog serve did not start: see {data / 'serve.log'}")
            time.sleep(0.05)

    def _ready(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                return True
        except OSError:
            return False

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(60)
        self._log.close()


def _send_all(port: int, token: str, bodies: list[bytes], latencies: list[float], errors: list[str]) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    headers = {"Content-Type": "application/x-protobuf", "Authorization": f"Token {token}"}
    try:
        for body in bodies:
            for _attempt in range(50):  # bounded: a 503 asks to come back after Retry-After
                start = time.perf_counter()
                connection.request("POST", "/v1/traces", body=body, headers=headers)
                response = connection.getresponse()
                response.read()
                if response.status == 200:
                    latencies.append(time.perf_counter() - start)
                    break
                if response.status != 503:
                    errors.append(f"HTTP {response.status}")
                    return
                time.sleep(float(response.getheader("Retry-After") or 1))
            else:
                errors.append("still 503 after 50 attempts")
                return
    finally:
        connection.close()


def run_otlp(data: Path, bodies: list[bytes], spans: int, warm: bytes, env: dict[str, str]) -> dict[str, Any]:
    """One end-to-end OTLP round: a fresh service (`env` added to its environment), CLIENTS concurrent
    senders, every batch acknowledged.

    One untimed batch first: it starts the decoding process and warms its caches, as any
    running service is warm.
    """
    service = Service(data, env)
    try:
        _send_all(service.port, service.token, [warm], [], [])
        shares = [bodies[i::CLIENTS] for i in range(CLIENTS)]
        latencies: list[float] = []
        errors: list[str] = []
        threads = [
            threading.Thread(target=_send_all, args=(service.port, service.token, share, latencies, errors))
            for share in shares
        ]
        cpu_before = _cpu_seconds(service.process.pid)
        start = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - start
        cpu = _cpu_seconds(service.process.pid) - cpu_before
        peak_rss = _peak_rss(service.process.pid)
    finally:
        service.stop()
    if errors:
        raise RuntimeError(f"OTLP round failed: {errors[:3]}")
    store = RequestLogStore(service.db)
    try:
        stored = store.count()
    finally:
        store.close()
    if stored != spans + BATCH:
        raise RuntimeError(f"{stored} rows stored, expected {spans + BATCH}")
    return {
        "rate": spans / elapsed,
        "p50": percentile(latencies, 0.5),
        "p99": percentile(latencies, 0.99),
        "rows_per_cpu_s": spans / cpu if cpu > 0 else float("nan"),
        "bytes_per_row": service.db.stat().st_size / stored,
        "peak_rss_mib": peak_rss / 2**20,
    }


def _processes(pid: int) -> list[int]:
    """`pid` and its descendants (the decoding processes), from /proc (Linux)."""
    found, queue = [], [pid]
    while queue:
        current = queue.pop()
        found.append(current)
        try:
            for task in Path(f"/proc/{current}/task").iterdir():
                queue += [int(child) for child in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of the service and its decoding processes so far."""
    ticks = 0
    for process in _processes(pid):
        try:
            fields = Path(f"/proc/{process}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def _peak_rss(pid: int) -> int:
    """Peak resident memory (VmHWM) of the service plus its decoding processes, in bytes."""
    total = 0
    for process in _processes(pid):
        try:
            for line in Path(f"/proc/{process}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    total += int(line.split()[1]) * 1024
        except OSError:
            continue
    return total


def run_in_process(path: Path, batches: list[list[Any]], spans: int, warm: list[Any]) -> float:
    exporter = DuckDBSpanExporter(path)
    try:
        exporter.export(warm)  # untimed, as for the service
        start = time.perf_counter()
        for batch in batches:
            exporter.export(batch)
        elapsed = time.perf_counter() - start
        assert exporter.exported == spans + len(warm)
    finally:
        exporter.shutdown()
    return spans / elapsed


def stages(data: Path, bodies: list[bytes], spans: int) -> list[dict[str, Any]]:
    """Microseconds per span for each step of the OTLP path, in this process, one thread."""
    redactor = Redactor()
    timings: dict[str, float] = {}

    # Each step once untimed first: pyarrow, for one, sets itself up on its first conversion
    # (measured: ~10 us a span of a 20,480-span run).
    values_to_arrow(otlp_decoder.decode_protobuf(bodies[0], redactor=redactor).rows)

    def timed(name: str, fn: Callable[[], Any]) -> Any:
        start = time.perf_counter()
        result = fn()
        timings[name] = (time.perf_counter() - start) / spans * 1e6
        return result

    def parse_only() -> None:
        for body in bodies:
            LeanExportTraceServiceRequest.FromString(body)

    def attributes_only() -> None:
        for body in bodies:
            request = LeanExportTraceServiceRequest.FromString(body)
            for resource_spans in request.resource_spans:
                for scope_spans in resource_spans.scope_spans:
                    for span in scope_spans.spans:
                        otlp_decoder._attributes(span.attributes)

    timed("protobuf parse", parse_only)
    timed("parse + attribute access", attributes_only)
    decoded = timed(
        "decode + flatten (decode_protobuf)",
        lambda: [otlp_decoder.decode_protobuf(b, redactor=redactor) for b in bodies],
    )
    tables = timed("Arrow build", lambda: [values_to_arrow(d.rows) for d in decoded])
    store = RequestLogStore(data / "stages.duckdb")
    try:
        timed("insert + commit (no RETURNING)", lambda: [store.insert_arrow(t, returning=False) for t in tables])
    finally:
        store.close()
    parse = timings["protobuf parse"]
    access = timings["parse + attribute access"] - parse
    flatten = timings["decode + flatten (decode_protobuf)"] - timings["parse + attribute access"]
    rows = [
        {"stage": "protobuf parse (upb, lazy)", "us_per_span": parse},
        {"stage": "attribute access (AnyValue -> Python)", "us_per_span": access},
        {"stage": "flatten (build_values)", "us_per_span": flatten},
        {"stage": "Arrow build", "us_per_span": timings["Arrow build"]},
        {"stage": "insert + commit", "us_per_span": timings["insert + commit (no RETURNING)"]},
    ]
    total = sum(row["us_per_span"] for row in rows)
    for row in rows:
        row["share"] = row["us_per_span"] / total
    return rows


def main() -> None:
    total = BATCH * (8 if QUICK else 40)
    rounds = 2 if QUICK else 5
    spans = make_spans(total)
    batches = [spans[i : i + BATCH] for i in range(0, total, BATCH)]
    bodies = [encode_spans(batch).SerializeToString() for batch in batches]
    warm_spans = make_spans(BATCH, seed=99)
    warm_body = encode_spans(warm_spans).SerializeToString()
    warm_up()
    in_process: list[float] = []
    # The service as `reqlog serve` runs by default, and (to show what filling the API's cache of
    # recent rows costs: RETURNING plus rendering each row's JSON) with that cache off.
    variants = {"otlp": {}, "otlp-no-cache": {"REQLOG_RECENT_CACHE_BYTES": "0"}}
    otlp: dict[str, list[dict[str, Any]]] = {name: [] for name in variants}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(rounds):
            # Rotate the order so no path always runs on a warmer (or busier) machine.
            order = ["in", *variants]
            order = order[r % len(order) :] + order[: r % len(order)]
            for which in order:
                data = Path(tmp) / f"{which}-{r}"
                data.mkdir()
                if which == "in":
                    in_process.append(run_in_process(data / "reqlog.duckdb", batches, total, warm_spans))
                else:
                    otlp[which].append(run_otlp(data, bodies, total, warm_body, variants[which]))
        breakdown = stages(Path(tmp), bodies, total)
    base_rate = median(in_process)
    rows: list[dict[str, Any]] = [
        {"path": "in-process DuckDBSpanExporter, batches of 512", "spans_per_s": base_rate, "vs_in_process": 1.0,
         "p50_ms": None, "p99_ms": None},
    ]  # fmt: skip
    labels = {"otlp": "", "otlp-no-cache": ", recent-rows cache off"}
    for name, results in otlp.items():
        rows.append(
            {
                "path": f"OTLP protobuf POST, {CLIENTS} clients x 512 spans{labels[name]}",
                "spans_per_s": median([o["rate"] for o in results]),
                "vs_in_process": median([o["rate"] / b for o, b in zip(results, in_process, strict=True)]),
                "p50_ms": median([o["p50"] for o in results]) * 1000,
                "p99_ms": median([o["p99"] for o in results]) * 1000,
            }
        )
    # Sizing (docs/deploy.md): the default service's CPU (service plus decoding process), disk and memory.
    sizing = [
        {
            "measure": "rows/s per CPU-second of the service and its decoding process",
            "value": median([o["rows_per_cpu_s"] for o in otlp["otlp"]]),
        },
        {"measure": "bytes per row in the DuckDB file", "value": median([o["bytes_per_row"] for o in otlp["otlp"]])},
        {
            "measure": "peak RSS, service + decoding process (MiB)",
            "value": median([o["peak_rss_mib"] for o in otlp["otlp"]]),
        },
    ]
    otlp_rate, ratio = rows[1]["spans_per_s"], rows[1]["vs_in_process"]
    goals = [
        {"goal": "OTLP end-to-end spans/s (2xx = committed)", "value": otlp_rate, "target": ">= 10000",
         "ok": otlp_rate >= 10_000},
        {"goal": "OTLP / in-process (same run, median of per-round ratios)", "value": ratio, "target": ">= 0.7",
         "ok": ratio >= 0.7},
    ]  # fmt: skip
    print(f"{total} spans x {rounds} rounds, {os.cpu_count()} CPUs, medians")
    report("ingest_stages", breakdown)
    report("ingest", rows, goals=goals)
    report("ingest_sizing", sizing)


if __name__ == "__main__":
    main()
