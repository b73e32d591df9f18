"""Exporter throughput: flattening alone, flattening + store, and the raw insert ceiling.

All three run in the same process on the same spans, pinned to one CPU core: spans/s through
`span_values` (`span_to_row` minus building the dataclass) alone; through
`DuckDBSpanExporter.export` in batches of 512 (BatchSpanProcessor's
batch: flatten, Arrow build, one transaction each); and `RequestLogStore.insert_values` of the same
rows pre-built (the ceiling the exporter can approach). Goals (issue 2): flatten + store >= 10,000
spans/s and >= 0.6x the ceiling.

    make bench            # or: .venv/bin/python -m bench exporter
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench.common import QUICK, median, report
from bench.spans import make_spans
from exporter import DuckDBSpanExporter, RequestLogStore
from exporter.flatten import span_values
from exporter.useragent import warm_up

BATCH = 512


def _pin_to_one_core() -> str:
    if hasattr(os, "sched_setaffinity"):
        core = min(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {core})
        return f"core {core}"
    return "not pinned"


def insert_paths(rows: list[tuple[object, ...]], tmp: str) -> list[dict[str, object]]:
    """Why the store inserts through Arrow: the same rows, one transaction per batch, three ways."""
    from exporter.store_arrow import _INSERTED_COLUMNS, _INSERTED_INDEXES
    from exporter.value_parts import ROWS_TABLE as TABLE  # the file's table; `request_logs` is a view

    columns = ", ".join(_INSERTED_COLUMNS)
    marks = ", ".join("?" for _ in _INSERTED_COLUMNS)
    picked = [tuple(row[i] for i in _INSERTED_INDEXES) for row in rows]
    results = []
    for label, count in (
        ("executemany", 256),
        ("multi-row VALUES", BATCH * 2),
        ("Arrow (the store's path)", BATCH * 4),
    ):
        store = RequestLogStore(Path(tmp) / f"paths-{len(results)}.duckdb")
        cursor = store.cursor()
        start = time.perf_counter()
        for offset in range(0, count, BATCH):
            chunk = picked[offset : offset + min(BATCH, count - offset)]
            if label == "executemany":
                cursor.execute("BEGIN TRANSACTION")
                cursor.executemany(f"INSERT INTO {TABLE} ({columns}) VALUES ({marks})", chunk)
                cursor.execute("COMMIT")
            elif label == "multi-row VALUES":
                values = ", ".join(f"({marks})" for _ in chunk)
                cursor.execute("BEGIN TRANSACTION")
                cursor.execute(f"INSERT INTO {TABLE} ({columns}) VALUES {values}", [v for row in chunk for v in row])
                cursor.execute("COMMIT")
            else:
                store.insert_values(rows[offset : offset + min(BATCH, count - offset)], returning=False)
        elapsed = time.perf_counter() - start
        store.close()
        results.append({"insert path": label, "rows": count, "rows_per_s": count / elapsed})
    return results


def main() -> None:
    pinned = _pin_to_one_core()
    total = 2_048 if QUICK else 10_240
    rounds = 3 if QUICK else 5
    spans = make_spans(total)
    batches = [spans[i : i + BATCH] for i in range(0, total, BATCH)]
    warm_up()
    [span_values(s) for s in spans[:BATCH]]  # warm the user-agent and header caches as real traffic does

    # Each path is timed in wall-clock and in this process's CPU time. Pinned to one core, CPU time
    # is the work the path needs on that core, whatever else the shared machine runs; wall time
    # is what a user on an idle machine would see. Goals use CPU time, the noise-free figure.
    rates: dict[str, dict[str, list[float]]] = {p: {"wall": [], "cpu": []} for p in ("flatten", "export", "raw")}

    def timed(path: str, fn: Callable[[], None]) -> None:
        wall, cpu = time.perf_counter(), time.process_time()
        fn()
        rates[path]["wall"].append(total / (time.perf_counter() - wall))
        rates[path]["cpu"].append(total / (time.process_time() - cpu))

    with tempfile.TemporaryDirectory() as tmp:
        for r in range(rounds):
            rows: list[tuple[object, ...]] = []
            timed("flatten", lambda out=rows: out.extend(span_values(s) for s in spans))  # type: ignore[misc]

            exporter = DuckDBSpanExporter(Path(tmp) / f"export-{r}.duckdb")
            timed("export", lambda e=exporter: [e.export(batch) for batch in batches] and None)
            assert exporter.exported == total
            exporter.shutdown()

            store = RequestLogStore(Path(tmp) / f"raw-{r}.duckdb")
            prebuilt = [rows[i : i + BATCH] for i in range(0, total, BATCH)]
            timed("raw", lambda s=store, p=prebuilt: [s.insert_values(b, returning=False) for b in p] and None)
            store.close()

    cpu = {path: median(v["cpu"]) for path, v in rates.items()}
    wall = {path: median(v["wall"]) for path, v in rates.items()}
    labels = {
        "flatten": "flatten only (span_values)",
        "export": "flatten + store, batches of 512",
        "raw": "raw insert of pre-built rows (ceiling)",
    }
    rows_out = [
        {
            "path": label,
            "spans_per_cpu_s": cpu[path],
            "cpu_vs_ceiling": cpu[path] / cpu["raw"],
            "spans_per_wall_s": wall[path],
            "wall_vs_ceiling": wall[path] / wall["raw"],
        }
        for path, label in labels.items()
    ]
    export, ratio = cpu["export"], cpu["export"] / cpu["raw"]
    goals = [
        {"goal": "flatten + store spans per CPU-second (one core)", "value": export, "target": ">= 10000",
         "ok": export >= 10_000},
        {"goal": "flatten + store / raw ceiling (CPU time)", "value": ratio, "target": ">= 0.6", "ok": ratio >= 0.6},
    ]  # fmt: skip
    print(f"{total} spans x {rounds} rounds, medians, pinned to {pinned}")
    report("exporter", rows_out, goals=goals)
    with tempfile.TemporaryDirectory() as tmp:
        report("exporter_insert_paths", insert_paths(rows, tmp))


if __name__ == "__main__":
    main()
