"""Export request logs as Parquet (zstd), Hive-partitioned by day: `OUT/date=YYYY-MM-DD/part-0.parquet`.

Rows leave DuckDB as Arrow record batches and are written with pyarrow, never with DuckDB's COPY:
the service's DuckDB instance refuses every file access (`SERVICE_DUCKDB_CONFIG`). The same
writer serves both paths: rows read from the file (`reqlog export --db`) and rows streamed by the
service as Arrow IPC (`GET /api/metrics/request_logs/export`, `reqlog export --url`).

A day is the UTC date of `started_at`. Exporting a day again replaces that day's file (written
to a temporary name, then renamed), so an export can be repeated. JSON columns are written with
Parquet's JSON logical type, so DuckDB reads them back as JSON and pyarrow as `arrow.json`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from exporter.log_store import LogStore
from exporter.row import JSON_COLUMNS

BATCH_ROWS = 100_000
PART_NAME = "part-0.parquet"
NULL_PARTITION = "__HIVE_DEFAULT_PARTITION__"  # Hive's name for a NULL partition value
ARROW_STREAM = "application/vnd.apache.arrow.stream"

Progress = Callable[[int], None]


@dataclass(slots=True)
class ExportSummary:
    """What an export wrote: rows in all, and the files, one per day."""

    rows: int = 0
    files: list[Path] = field(default_factory=list)


def parse_bound(text: str | None, *, end: bool = False) -> datetime | None:
    """`--since` / `--until` as a naive UTC datetime; `None` for no bound.

    A plain date covers whole days: as `since` it means that day's midnight, as `until` (`end=True`)
    the midnight after it, so `--until 2025-11-30` includes the 30th. A date-time is used as is
    (an offset is converted to UTC). Raises `ValueError` on anything else.
    """
    if text is None or not text.strip():
        return None
    text = text.strip()
    if len(text) == 10:
        day = date.fromisoformat(text)
        return datetime.combine(day + timedelta(days=1) if end else day, datetime.min.time())
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is not None:
        moment = (moment - (moment.utcoffset() or timedelta())).replace(tzinfo=None)
    return moment


def write_parquet(
    batches: Iterable[pa.RecordBatch], out: str | Path, *, progress: Progress | None = None
) -> ExportSummary:
    """Write `batches` (request-log columns, in `started_at` order) as one Parquet file per day under `out`.

    `progress` is called with the number of rows written so far after each batch.
    """
    writer = _DayWriter(Path(out))
    summary = ExportSummary()
    try:
        for batch in batches:
            if batch.num_rows == 0:
                continue
            writer.write(batch)
            summary.rows += batch.num_rows
            if progress is not None:
                progress(summary.rows)
    except BaseException:
        writer.abort()
        raise
    summary.files = writer.close()
    return summary


def export_from(
    store: LogStore,
    out: str | Path,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> ExportSummary:
    """Export the `[since, until)` range of `store` into `out`.

    `progress(done, total)` is called as rows are written.
    """
    read = store.export_batches(since, until, batch_rows=BATCH_ROWS)
    try:
        total = read.total
        return write_parquet(read.rows, out, progress=None if progress is None else lambda done: progress(done, total))
    finally:
        read.close()


class _DayWriter:
    """One open `ParquetWriter` at a time: rows arrive in day order, so a day's file is done when the next starts."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self._day: str | None = None
        self._writer: pq.ParquetWriter | None = None
        self._tmp: Path | None = None
        self._final: Path | None = None
        self._files: list[Path] = []
        self._schema: pa.Schema | None = None

    def write(self, batch: pa.RecordBatch) -> None:
        batch = _with_json_types(batch)
        days = pc.strftime(batch.column("started_at"), format="%Y-%m-%d")
        days = pc.fill_null(days, NULL_PARTITION)
        start = 0
        values = days.to_pylist()
        # Split where the day changes; batches are sorted, so usually one run, at most a few.
        for i in range(1, len(values) + 1):
            if i == len(values) or values[i] != values[start]:
                self._switch(values[start], batch.schema)
                assert self._writer is not None
                self._writer.write_batch(batch.slice(start, i - start))
                start = i

    def _switch(self, day: str, schema: pa.Schema) -> None:
        if day == self._day:
            return
        self._finish()
        directory = self.out / f"date={day}"
        directory.mkdir(parents=True, exist_ok=True)
        self._final = directory / PART_NAME
        self._tmp = directory / f".{PART_NAME}.tmp"
        self._writer = pq.ParquetWriter(self._tmp, schema, compression="zstd")
        self._day = day

    def _finish(self) -> None:
        if self._writer is None:
            return
        self._writer.close()
        assert self._tmp is not None and self._final is not None
        os.replace(self._tmp, self._final)
        self._files.append(self._final)
        self._writer = None

    def close(self) -> list[Path]:
        self._finish()
        return self._files

    def abort(self) -> None:
        if self._writer is not None:
            self._writer.close()
            if self._tmp is not None:
                self._tmp.unlink(missing_ok=True)
            self._writer = None


def _with_json_types(batch: pa.RecordBatch) -> pa.RecordBatch:
    arrays = []
    fields = []
    for name, column in zip(batch.schema.names, batch.columns, strict=True):
        if name in JSON_COLUMNS and pa.types.is_string(column.type):
            column = pa.ExtensionArray.from_storage(pa.json_(pa.string()), column)
        arrays.append(column)
        fields.append(pa.field(name, column.type))
    return pa.RecordBatch.from_arrays(arrays, schema=pa.schema(fields))
