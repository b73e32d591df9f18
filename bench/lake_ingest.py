"""Ingest per writer (`bench/lake.py`, part 1): OTLP spans/s to a lake writer and to the single file.

The same pre-encoded batches of realistic spans, POSTed by CLIENTS clients to `reqlog serve` on one
DuckDB file and to one lake writer, in interleaved rounds.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

from bench.common import QUICK, median
from bench.ingest_service import BATCH, Service, send_all, send_concurrently
from bench.lake_data import make_lake, start_node
from bench.spans import make_spans
from query_api.accounts.pg import PgAccountDB
from query_api.auth import PERM_INGEST
from tests.lake.postgres import ThrowawayPostgres

ROUNDS = 2 if QUICK else 3
INGEST_BATCHES = 8 if QUICK else 40


def ingest(server: ThrowawayPostgres, root: Path) -> tuple[list[dict[str, Any]], float]:
    spans = make_spans(BATCH * (INGEST_BATCHES + 1))
    bodies = [encode_spans(spans[i : i + BATCH]).SerializeToString() for i in range(0, len(spans), BATCH)]
    warm, timed = bodies[0], bodies[1:]
    count = BATCH * INGEST_BATCHES
    rates: dict[str, list[float]] = {"single file": [], "lake writer": []}
    for round_number in range(ROUNDS):
        single_dir = root / f"single-{round_number}"
        single_dir.mkdir()
        service = Service(single_dir)
        try:
            rates["single file"].append(_timed_send(service.port, service.token, warm, timed, count))
        finally:
            service.stop()
        lake = make_lake(server, root, f"ingest{round_number}")
        with PgAccountDB(lake["accounts"]) as accounts:
            accounts.create_account("collector", permissions=[PERM_INGEST])
            token = accounts.create_token("collector")
        writer = start_node("writer", lake, root / f"single-{round_number}")
        try:
            rates["lake writer"].append(_timed_send(writer.port, token, warm, timed, count))
        finally:
            writer.stop()
    rows = [{"path": name, "spans_per_s": median(values), "rounds": len(values)} for name, values in rates.items()]
    return rows, median(rates["lake writer"]) / median(rates["single file"])


def _timed_send(port: int, token: str, warm: bytes, bodies: list[bytes], count: int) -> float:
    send_all(port, token, [warm], [], [])
    errors: list[str] = []
    elapsed = send_concurrently(port, token, bodies, [], errors)
    if errors:
        raise RuntimeError(f"ingest failed: {errors[:3]}")
    return count / elapsed
