"""How `configure()` batches spans: small exports, bounded in spans and in bytes.

A request-log span carries both bodies (up to `max_body_bytes`, 64 KiB each by default) and every
header, so the SDK's stock batch of 512 spans can reach 512 x 128 KiB = 64 MiB of bodies alone, past
what a service accepts in one request. `configure()` therefore sends at most 64 spans per export
(worst case with default bodies ~9 MiB: 64 x (2 x 64 KiB + 16 KiB of headers)), and `BoundedExporter`
splits any batch whose estimated encoded size passes 16 MiB (bodies larger than the default, or
non-UTF-8 bytes, each of which becomes a 3-byte replacement character), so one export stays under
the limit whatever the middleware's options. The numbers, and the loss window they imply on
SIGKILL, are in docs/instrumentation.md.

Each setting resolves argument > `OTEL_BSP_*` (or `REQLOG_MAX_EXPORT_BYTES`) > the default here.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from .options import OptionError
from .settings_table import SETTINGS

logger = logging.getLogger("reqlog.instrumentation")

DEFAULT_MAX_EXPORT_BATCH_SIZE = 64
DEFAULT_MAX_QUEUE_SIZE = 2048  # the SDK's: 32 full batches of headroom while the service is slow
# The SDK's is 5000 ms: every span still queued is lost on SIGKILL, so send sooner. An idle
# processor exports nothing, so this costs nothing without traffic.
DEFAULT_SCHEDULE_DELAY_MILLIS = 1000
_MAX_EXPORT_BYTES = SETTINGS["max_export_bytes"]  # `REQLOG_MAX_EXPORT_BYTES`, declared with the others
DEFAULT_MAX_EXPORT_BYTES: int = _MAX_EXPORT_BYTES.default
_SPAN_OVERHEAD = 512  # ids, times, name, status, kind, scope: a generous allowance per span
_FIELD_OVERHEAD = 16  # tag, lengths and the value wrapper of one attribute


@dataclasses.dataclass(frozen=True, slots=True)
class Batching:
    """The BatchSpanProcessor's settings plus the byte bound of one export."""

    max_queue_size: int
    schedule_delay_millis: int
    max_export_batch_size: int
    max_export_bytes: int

    @classmethod
    def resolve(
        cls,
        env: Mapping[str, str],
        *,
        max_queue_size: int | None = None,
        schedule_delay_millis: int | None = None,
        max_export_batch_size: int | None = None,
        max_export_bytes: int | None = None,
    ) -> Batching:
        """Argument > variable > default. Raises `OptionError` for a value that is not a positive int."""
        queue = _pick("max_queue_size", max_queue_size, env, "OTEL_BSP_MAX_QUEUE_SIZE", DEFAULT_MAX_QUEUE_SIZE)
        delay = _pick(
            "schedule_delay_millis",
            schedule_delay_millis,
            env,
            "OTEL_BSP_SCHEDULE_DELAY",
            DEFAULT_SCHEDULE_DELAY_MILLIS,
        )
        batch = _pick(
            "max_export_batch_size",
            max_export_batch_size,
            env,
            "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
            min(DEFAULT_MAX_EXPORT_BATCH_SIZE, queue),  # a small queue set alone must not be an error
        )
        size = _pick("max_export_bytes", max_export_bytes, env, _MAX_EXPORT_BYTES.variable, DEFAULT_MAX_EXPORT_BYTES)
        if batch > queue:
            raise OptionError("max_export_batch_size", f"{batch} is larger than max_queue_size {queue}")
        return cls(queue, delay, batch, size)


def _pick(name: str, value: int | None, env: Mapping[str, str], variable: str, default: int) -> int:
    if value is None:
        text = env.get(variable, "").strip()
        if not text:
            return default
        try:
            value = int(text)
        except ValueError:
            raise OptionError(name, f"{variable}={text!r} is not an integer") from None
    if value <= 0:
        raise OptionError(name, f"must be positive, not {value}")
    return value


def estimate_size(span: ReadableSpan) -> int:
    """An upper estimate of the span's size in OTLP protobuf, in bytes (cheap: lengths only)."""
    size = _SPAN_OVERHEAD + _attributes_size(span.attributes)
    for event in span.events:
        size += _SPAN_OVERHEAD + len(event.name) + _attributes_size(event.attributes)
    return size


def _attributes_size(attributes: Mapping[str, Any] | None) -> int:
    size = 0
    for key, value in (attributes or {}).items():
        size += len(key) + _FIELD_OVERHEAD + _value_size(value)
    return size


def _value_size(value: object) -> int:
    if isinstance(value, str):
        # An ASCII character is one byte; any other at most four in UTF-8.
        return len(value) if value.isascii() else 4 * len(value)
    if isinstance(value, tuple | list):
        return sum(_value_size(item) + _FIELD_OVERHEAD for item in value)
    if isinstance(value, bytes):
        return len(value)
    return _FIELD_OVERHEAD


def split(spans: Sequence[ReadableSpan], max_bytes: int) -> list[Sequence[ReadableSpan]]:
    """`spans` in order, cut into runs whose estimated size stays within `max_bytes` (a span
    larger than that alone goes alone: it cannot be cut)."""
    chunks: list[Sequence[ReadableSpan]] = []
    start, total = 0, 0
    for index, span in enumerate(spans):
        size = estimate_size(span)
        if index > start and total + size > max_bytes:
            chunks.append(spans[start:index])
            start, total = index, 0
        total += size
    if start < len(spans):
        chunks.append(spans[start:])
    return chunks


class BoundedExporter(SpanExporter):
    """Wraps an exporter: each batch is sent in runs of at most `max_bytes` (estimated).

    Every run is attempted even after one fails, so one refused run costs only its own spans.
    `on_result(result)` is called after every run (the broken-pipe monitor listens to it).
    """

    def __init__(
        self,
        inner: SpanExporter,
        max_bytes: int,
        *,
        on_result: Callable[[SpanExportResult], None] | None = None,
    ) -> None:
        self.inner = inner
        self.max_bytes = max_bytes
        self._on_result = on_result

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        outcome = SpanExportResult.SUCCESS
        for chunk in split(spans, self.max_bytes):
            try:
                result = self.inner.export(chunk)
            except Exception:  # export() never raises; the next run still gets its chance
                logger.exception("reqlog: exporting %d spans failed", len(chunk))
                result = SpanExportResult.FAILURE
            if self._on_result is not None:
                self._on_result(result)
            if result is not SpanExportResult.SUCCESS:
                outcome = SpanExportResult.FAILURE
        return outcome

    def shutdown(self) -> None:
        self.inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.inner.force_flush(timeout_millis)
