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

The modules: `ingest_service` (the service and its clients), `ingest_otlp` (an OTLP round),
`ingest_stages` (the breakdown); this one runs the rounds against the in-process path and reports.

    make bench            # or: .venv/bin/python -m bench ingest   (REQLOG_BENCH_QUICK=1: smaller)
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Any

from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

from bench.common import QUICK, median, report
from bench.ingest_otlp import run_otlp
from bench.ingest_service import BATCH, CLIENTS
from bench.ingest_stages import stages
from bench.spans import make_spans
from exporter import DuckDBSpanExporter
from exporter.useragent import warm_up


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
