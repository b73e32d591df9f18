"""(a) of `bench/api.py`, the storage ceiling: lookups by random id straight from the store.

In-process, with the service's number of reader threads, plus single-thread latency; and, for
reference, the rate when each query fetches several ids, as the service's `RowFetcher` does.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from pathlib import Path

from bench.common import percentile, run_threads
from exporter.store import SERVICE_DUCKDB_CONFIG, RequestLogStore


def _run_threads(worker: Callable[[int], None], threads: int) -> float:
    """Run `worker(seed)` on `threads` threads at once; the seconds until all have finished."""
    return run_threads([threading.Thread(target=worker, args=(t,)) for t in range(threads)])


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
