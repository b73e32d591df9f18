"""One end-to-end OTLP round of `bench/ingest.py`: a fresh service, concurrent clients, every batch acknowledged.

Besides the rate and the answers' latency, the service's CPU time and peak memory (with its
decoding processes, read from /proc: Linux) and the file's bytes per row, for sizing.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from bench.common import percentile
from bench.ingest_service import BATCH, Service, send_all, send_concurrently
from exporter import RequestLogStore


def run_otlp(data: Path, bodies: list[bytes], spans: int, warm: bytes, env: dict[str, str]) -> dict[str, Any]:
    """One end-to-end OTLP round: a fresh service (`env` added to its environment), CLIENTS concurrent
    senders, every batch acknowledged.

    One untimed batch first: it starts the decoding process and warms its caches, as any
    running service is warm.
    """
    service = Service(data, env)
    try:
        send_all(service.port, service.token, [warm], [], [])
        latencies: list[float] = []
        errors: list[str] = []
        cpu_before = _cpu_seconds(service.process.pid)
        elapsed = send_concurrently(service.port, service.token, bodies, latencies, errors)
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
