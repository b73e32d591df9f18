"""Build real SDK server spans for exporter tests: a local tracer, explicit times and attributes."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind


def ns(timestamp: str) -> int:
    """Nanoseconds since the epoch for an ISO timestamp ending in Z (microsecond precision)."""
    moment = datetime.fromisoformat(timestamp.replace("Z", "+00:00")).astimezone(UTC)
    return int(moment.timestamp()) * 1_000_000_000 + moment.microsecond * 1000


def make_span(
    provider: TracerProvider,
    memory: InMemorySpanExporter,
    attributes: Mapping[str, Any],
    *,
    kind: SpanKind = SpanKind.SERVER,
    start: str = "2025-11-19T14:55:32.673075Z",
    end: str = "2025-11-19T14:55:32.789033Z",
    exception: BaseException | None = None,
) -> ReadableSpan:
    """Start and end one span through the real SDK and return the finished span."""
    tracer = provider.get_tracer("reqlog-tests")
    span = tracer.start_span("GET /", kind=kind, attributes=dict(attributes), start_time=ns(start))
    if exception is not None:
        span.record_exception(exception)
    span.end(end_time=ns(end))
    return memory.get_finished_spans()[-1]
