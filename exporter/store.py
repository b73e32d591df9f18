"""The DuckDB store, `LogStore`'s one implementation: migrating, batched writes, reads, housekeeping.

The table is in `schema`, the statements in `store_queries`, `store_housekeeping` and `analytics`.
One `RequestLogStore` owns one DuckDB database file (DuckDB lets a single process hold a file
read-write). Each thread works through its own cursor. Writes come in batches, one transaction
per batch, through an Arrow table: DuckDB's commit costs milliseconds and `executemany` goes row
by row, so batching is what makes ingest fast (docs/design-notes.md, and `bench/exporter.py`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from . import analytics, store_housekeeping, store_queries
from .deadline import run_with_deadline
from .errors import StorageError
from .log_filter import LogFilter
from .log_store import ExportRead, PrunePreview, PruneResult
from .row import RequestLog, row_values
from .schema import SEQUENCE, TABLE
from .store_arrow import rows_to_arrow as rows_to_arrow
from .store_arrow import unique_spans as unique_spans
from .store_arrow import values_to_arrow as values_to_arrow
from .store_connection import SERVICE_DUCKDB_CONFIG as SERVICE_DUCKDB_CONFIG
from .store_connection import StoreConnection, utcnow
from .store_queries import INSERT_HEAD, INSERT_SKIPPING_STORED, RETURNING


def _batch_table(rows: Sequence[tuple[Any, ...]]) -> pa.Table:
    try:
        return values_to_arrow(unique_spans(rows))
    except (pa.ArrowException, OverflowError, TypeError, ValueError) as exc:
        raise StorageError(f"batch of {len(rows)} rows does not fit the schema: {exc}") from exc


class RequestLogStore(StoreConnection):
    """Open (creating or migrating) the request-log database at `path`; a `LogStore`.

    With `read_only=True` the file is opened read-only (many processes may, while none holds it
    read-write) with `config` alone, and neither migrated nor written: for `reqlog sql`, `export`
    and `prune --dry-run` on a file no service holds.

    Raises `StorageError` when the file cannot be opened (for example, another process holds it)
    or was written by a newer release.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        memory_limit: str = "1GB",
        checkpoint_threshold: str = "256MB",
        config: dict[str, Any] | None = None,
        read_only: bool = False,
    ) -> None:
        super().__init__(
            path,
            memory_limit=memory_limit,
            checkpoint_threshold=checkpoint_threshold,
            config=config,
            read_only=read_only,
        )
        if not read_only:
            self.sync_sequence()

    def sync_sequence(self) -> int:
        """Move the id sequence past the largest stored id; return the next id it will give.

        A file restored from a Parquet export, or given rows by hand, holds ids the sequence has
        not reached: without this every insert would clash with them. Called on open, and again
        by an insert that hits an id clash.
        """
        cursor = self.cursor()
        (max_id,) = cursor.execute(f"SELECT max(id) FROM {TABLE}").fetchall()[0]
        (last,) = cursor.execute(
            "SELECT last_value FROM duckdb_sequences() WHERE sequence_name = ?", [SEQUENCE]
        ).fetchall()[0]
        if max_id is not None and (last is None or max_id > last):
            cursor.execute("SELECT setval(?, ?)", [SEQUENCE, max_id]).fetchall()
            return int(max_id) + 1
        return (last or 0) + 1

    # -- writes -----------------------------------------------------------------------------

    def insert_rows(self, rows: Sequence[RequestLog], *, returning: bool = True) -> list[tuple[Any, ...]]:
        """Insert a batch in one transaction; return the stored rows' values in column order.

        The returned tuples carry the assigned `id`, `created_at` and `updated_at`, so a caller
        can render or cache what was stored without reading it back (`row.render_json`).

        A row whose (trace_id, span_id) is already stored, or repeated in the batch, is skipped.
        With `returning=False` nothing is returned (and the insert is ~10% cheaper).
        Raises `StorageError` when the write fails (nothing of the batch is stored then).
        """
        return self.insert_values([row_values(row) for row in rows], returning=returning)

    def insert_values(self, rows: Sequence[tuple[Any, ...]], *, returning: bool = True) -> list[tuple[Any, ...]]:
        """`insert_rows` for rows given as value tuples in column order (`flatten.span_values`)."""
        if not rows:
            return []
        return self.insert_arrow(_batch_table(rows), returning=returning)

    def insert_values_counted(self, rows: Sequence[tuple[Any, ...]]) -> int:
        """`insert_values` without RETURNING; the number of rows the file gained."""
        if not rows:
            return 0
        return self.insert_table(_batch_table(rows), returning=False)[0]

    def insert_arrow(self, table: pa.Table, *, returning: bool = True) -> list[tuple[Any, ...]]:
        """Insert an Arrow table with the columns of `rows_to_arrow`; see `insert_rows`."""
        return self.insert_table(table, returning=returning)[1]

    def insert_table(self, table: pa.Table, *, returning: bool = True) -> tuple[int, list[tuple[Any, ...]]]:
        """`insert_arrow`, also giving how many rows the file gained (spans already stored are not).

        Raises `StorageError` when nothing could be stored: every failure is loud, and a caller
        that counts "written" counts this number, so the count is what the file holds.
        """
        try:
            stored = self._insert(table, returning)
        except duckdb.Error as exc:
            if not invalidated(exc):
                raise StorageError(f"insert of {table.num_rows} rows failed: {exc}") from exc
            # Reopen and write once more: rows of the failed try that did commit are in the WAL,
            # and the retry skips them as spans already stored.
            self.reopen(str(exc))
            try:
                stored = self._insert(table, returning)
            except duckdb.Error as again:
                raise StorageError(f"insert of {table.num_rows} rows failed after reopening: {again}") from again
        if not returning:
            return (int(stored[0][0]) if stored else 0), []
        stored.sort(key=lambda values: values[0])  # RETURNING comes in no particular order
        return len(stored), stored

    def _insert(self, table: pa.Table, returning: bool) -> list[tuple[Any, ...]]:
        cursor = self.cursor()
        tail = RETURNING if returning else ""
        cursor.register("_reqlog_batch", table)
        try:
            try:
                return self._insert_once(cursor, INSERT_HEAD + tail)
            except duckdb.ConstraintException:
                try:
                    return self._insert_once(cursor, INSERT_SKIPPING_STORED + tail)
                except duckdb.ConstraintException:
                    # Not a span already stored but an id clash: rows with ids the sequence has
                    # not reached came in meanwhile. Move the sequence and try once more.
                    self.sync_sequence()
                    return self._insert_once(cursor, INSERT_SKIPPING_STORED + tail)
        finally:
            with contextlib.suppress(duckdb.Error):
                cursor.unregister("_reqlog_batch")

    @staticmethod
    def _insert_once(cursor: duckdb.DuckDBPyConnection, sql: str) -> list[tuple[Any, ...]]:
        cursor.execute("BEGIN TRANSACTION")
        try:
            stored = cursor.execute(sql, {"now": utcnow()}).fetchall()
            cursor.execute("COMMIT")
        except BaseException:
            cursor.execute("ROLLBACK")
            raise
        return stored

    # -- reads ------------------------------------------------------------------------------

    def get_values(self, request_id: int) -> tuple[Any, ...] | None:
        """The row's values in column order, or `None` when no row has that id."""
        return store_queries.get_values(self.cursor(), request_id, self.parts_table)

    def get_many_values(self, request_ids: Sequence[int]) -> dict[int, tuple[Any, ...]]:
        """Rows by id, as values in column order; ids with no row are absent (`store_queries.get_many_values`)."""
        return store_queries.get_many_values(self.cursor(), request_ids, self.parts_table)

    def get_row(self, request_id: int) -> RequestLog | None:
        """The row with id `request_id`, or `None`."""
        values = self.get_values(request_id)
        return None if values is None else RequestLog(*values)

    def count(self) -> int:
        return store_queries.count(self.cursor())

    def list_values(
        self,
        log_filter: LogFilter | None = None,
        *,
        before_id: int | None = None,
        after_id: int | None = None,
        limit: int = 50,
    ) -> list[tuple[Any, ...]]:
        """Rows matching `log_filter` as value tuples, at most `limit`, for cursor pagination.

        Newest (highest id) first, below `before_id` when given. With `after_id` (and no
        `before_id`), the rows just above it, oldest first: a page walked backwards.
        """
        return self.list_page(log_filter, before_id=before_id, after_id=after_id, limit=limit)[0]

    def list_page(
        self,
        log_filter: LogFilter | None = None,
        *,
        before_id: int | None = None,
        after_id: int | None = None,
        limit: int = 50,
        max_bytes: int | None = None,
    ) -> tuple[list[tuple[Any, ...]], bool]:
        """`list_values`, stopping once the rows pass `max_bytes` (rendered size, estimated first).

        Returns the rows and whether the budget cut the page short. The first row is always
        returned, however large, so a walk over the rows always moves on.
        """
        return store_queries.list_page(
            self.cursor(),
            log_filter,
            before_id=before_id,
            after_id=after_id,
            limit=limit,
            max_bytes=max_bytes,
            parts_table=self.parts_table,
        )

    def stats(
        self,
        group_by: str,
        *,
        started_after: datetime | None = None,
        started_before: datetime | None = None,
        limit: int = 100,
        timeout: float | None = None,
    ) -> list[tuple[Any, ...]]:
        """Count, p50/p95/p99 duration and error rate per group (`LogStore.stats`), read-only, within `timeout`."""
        sql, params = analytics.stats_query(
            group_by, started_after=started_after, started_before=started_before, limit=limit
        )
        return run_with_deadline(self.cursor(), sql, params, timeout=timeout)

    def list_summaries(
        self,
        log_filter: LogFilter | None = None,
        *,
        before_id: int | None = None,
        after_id: int | None = None,
        limit: int = 50,
    ) -> list[tuple[Any, ...]]:
        """`list_values` of `store_queries.SUMMARY_COLUMNS` only (`LogStore.list_summaries`)."""
        return store_queries.list_summaries(
            self.cursor(), log_filter, before_id=before_id, after_id=after_id, limit=limit
        )

    def dashboard(self, part: str, *, timeout: float | None = None, **arguments: Any) -> list[tuple[Any, ...]]:
        """One of the viewer dashboard's queries (`LogStore.dashboard`), read-only, within `timeout`."""
        sql, params = analytics.dashboard_query(part, **arguments)
        return run_with_deadline(self.cursor(), sql, params, timeout=timeout)

    def view_names(self) -> tuple[str, ...]:
        return analytics.VIEW_NAMES

    # -- housekeeping -----------------------------------------------------------------------

    def export_batches(
        self, since: datetime | None, until: datetime | None, *, batch_rows: int = 100_000
    ) -> ExportRead:
        """The rows of `[since, until)` as one consistent read (`LogStore.export_batches`)."""
        return store_housekeeping.export_read(self.cursor(), since, until, batch_rows=batch_rows)

    def preview_prune(self, cutoff: datetime) -> PrunePreview:
        """What `prune(cutoff)` would delete; deletes nothing."""
        return store_housekeeping.preview(self.cursor(), cutoff)

    def prune(
        self,
        cutoff: datetime,
        *,
        batch_rows: int = 50_000,
        on_batch: Callable[[int], None] | None = None,
        checkpoint: bool = True,
    ) -> PruneResult:
        """Delete the rows with `started_at < cutoff` in short batches, then checkpoint (`LogStore.prune`)."""
        try:
            return store_housekeeping.prune(
                self.cursor(), cutoff, batch_rows=batch_rows, on_batch=on_batch, checkpoint=checkpoint
            )
        except duckdb.Error as exc:
            raise StorageError(f"pruning rows before {cutoff.isoformat()} failed: {exc}") from exc


def invalidated(exc: BaseException) -> bool:
    """Whether `exc` says DuckDB invalidated the database (only reopening the file helps then)."""
    return isinstance(exc, duckdb.FatalException) or "database has been invalidated" in str(exc)
