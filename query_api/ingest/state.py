"""The OTLP receiver's state on the app (`keys.INGEST_KEY`): its writer, decoding pool, byte budget and counters."""

from __future__ import annotations

import dataclasses

from query_api.ingest.budget import ByteBudget
from query_api.ingest.decode import DecodePool
from query_api.ingest.writer import Writer


@dataclasses.dataclass(slots=True)
class IngestStats:
    """Counters since start: what came in and what became of it."""

    requests: int = 0
    spans: int = 0
    rows: int = 0  # rows the file gained (a retried span already stored is not counted again)
    ignored: int = 0  # not HTTP server spans
    rejected: int = 0  # malformed spans (answered in partial_success)
    refused: int = 0  # requests answered 503 because the writer was behind or failing
    over_budget: int = 0  # requests answered 503 because the in-flight byte budget was full
    too_large: int = 0  # requests answered 413 (past `ingest_max_bytes`)


@dataclasses.dataclass(slots=True)
class Ingest:
    """The receiver's state on the app: the writer, the decoding pool and the counters."""

    writer: Writer
    decoder: DecodePool
    max_bytes: int
    retry_after: int
    budget: ByteBudget
    stats: IngestStats = dataclasses.field(default_factory=IngestStats)
