"""Where a batch's time goes on the OTLP path (`bench/ingest.py`), in this process, one thread.

Protobuf parse, attribute access, flattening, the Arrow build and the insert, each in microseconds
per span and as a share of their sum.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from exporter import Redactor, RequestLogStore
from exporter import otlp as otlp_decoder
from exporter.otlp_wire import LeanExportTraceServiceRequest
from exporter.store import values_to_arrow


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
