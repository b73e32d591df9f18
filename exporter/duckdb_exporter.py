"""`DuckDBSpanExporter`: an OpenTelemetry `SpanExporter` that writes request-log rows in-process.

For single-process apps, scripts, tests and notebooks (docs/design-notes.md): the exporting process holds the
DuckDB file, so multi-worker apps export over OTLP to the reqlog service instead. Put it behind a
`BatchSpanProcessor`: each `export` call becomes one transaction, so a batch of 512 spans costs one
commit. It is registered as the `reqlog_duckdb` traces exporter, so OTel's own configuration
(`OTEL_TRACES_EXPORTER=reqlog_duckdb` or `otel-config.yaml`) can build it with keyword arguments.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from .errors import StorageError
from .flatten import build_values, span_arguments, span_values
from .isolation import Outcome, insert_isolating, refused_by_value, rows_to_table
from .repair import flatten_cleaned
from .settings import ExporterSettings
from .store import RequestLogStore, unique_spans
from .useragent import warm_up

logger = logging.getLogger(__name__)


class DuckDBSpanExporter(SpanExporter):
    """Flatten HTTP server spans into rows and store them in the DuckDB file at `path`.

    `path` and the keyword options are `ExporterSettings` fields; unset ones come from `REQLOG_*`
    environment variables, then defaults. Raises `ConfigError` for a bad option and `StorageError`
    when the file cannot be opened (another process holds it). Spans that are not HTTP server spans
    are skipped and counted in `skipped`. A span with a value that cannot be stored as it is gets
    the value replaced and is counted in `repaired`; one that cannot be stored even so is left out,
    logged and counted in `rejected`: either way the rest of its batch is stored.
    """

    def __init__(self, path: str | Path | None = None, **options: Any) -> None:
        self.settings = ExporterSettings.from_env(os.environ, db=path, **options)
        self._redactor = self.settings.redactor()
        warm_up()
        self._store = RequestLogStore(
            self.settings.db,
            memory_limit=self.settings.memory_limit,
            checkpoint_threshold=self.settings.checkpoint_threshold,
        )
        self._lock = threading.Lock()
        self._shutdown = False
        self.exported = 0
        self.skipped = 0
        self.repaired = 0
        self.rejected = 0

    @property
    def store(self) -> RequestLogStore:
        return self._store

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        """Store the batch in one transaction. Never raises: a failure is logged and reported."""
        if self._shutdown:
            logger.warning("DuckDBSpanExporter: export called after shutdown")
            return SpanExportResult.FAILURE
        try:
            rows = []
            for span in spans:
                try:
                    row = span_values(span, self._redactor)
                except Exception:
                    row = self._flatten_slowly(span)  # cleaned, or None when it is rejected
                    if row is None:
                        continue
                if row is None:
                    self.skipped += 1
                else:
                    rows.append(row)
            # The lock keeps batches from several processors' threads one after another, so the
            # counters stay right and the store sees one writer at a time.
            with self._lock:
                if rows:
                    try:
                        # Counted from what the file gained: a span already stored is not counted twice.
                        self.exported += self._store.insert_values_counted(rows)
                    except StorageError as exc:
                        if not refused_by_value(exc):
                            raise
                        self._store_isolating(rows)
        except Exception:
            logger.exception("DuckDBSpanExporter: could not export %d spans", len(spans))
            return SpanExportResult.FAILURE
        return SpanExportResult.SUCCESS

    def _flatten_slowly(self, span: ReadableSpan) -> tuple[Any, ...] | None:
        """A span whose flattening raised: flattened again with its text cleaned, or rejected (None)."""
        try:
            arguments = span_arguments(span, self._redactor)
            row = None if arguments is None else flatten_cleaned(build_values, arguments)
        except Exception:
            logger.exception("DuckDBSpanExporter: span %s cannot be flattened; left out", _span_name(span))
            self.rejected += 1
            return None
        if row is None:
            self.skipped += 1
            return None
        logger.warning("DuckDBSpanExporter: span %s stored with text replaced by U+FFFD", _span_name(span))
        self.repaired += 1
        return row

    def _store_isolating(self, rows: list[tuple[Any, ...]]) -> None:
        """The batch's insert was refused for a value: store every row but the ones at fault."""
        outcome = Outcome()
        table = rows_to_table(unique_spans(rows), outcome)
        if table is not None:
            insert_isolating(self._store, table, outcome, returning=False)
        for reason in outcome.repaired:
            logger.warning("DuckDBSpanExporter: %s", reason)
        for reason in outcome.rejected:
            logger.error("DuckDBSpanExporter: %s; left out", reason)
        self.repaired += len(outcome.repaired)
        self.rejected += len(outcome.rejected)
        self.exported += len(rows) - len(outcome.rejected)

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        """Nothing is buffered here: every `export` has committed before it returns."""
        return True

    def shutdown(self) -> None:
        """Close the database. Idempotent; later exports fail without raising."""
        with self._lock:
            if self._shutdown:
                return
            self._shutdown = True
            self._store.close()


def _span_name(span: ReadableSpan) -> str:
    context = span.context
    return f"{context.span_id:016x}" if context is not None else "?"
