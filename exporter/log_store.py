"""`LogStore`: what reqlog needs of a request-log store, so a second backend implements one class.

Every query over `request_logs` lives behind this interface; the service's endpoints, its ingest
writer, the retention job, the export and the `reqlog` commands call it and write no SQL over the
table themselves. `exporter.store.RequestLogStore` (one DuckDB file) is the implementation today.

Conventions every implementation keeps:

- A row travels as a *value tuple*: the `RequestLog` columns in `COLUMN_NAMES` order
  (`exporter.row`). Inserts take the tuples `flatten.span_values` builds, or an Arrow table with
  the columns of `values_to_arrow`; reads give tuples back, which `row.render_json` renders.
- Times are naive UTC `datetime`s. Ids are signed 64-bit integers assigned by the store, growing
  with insertion.
- Methods block: the service calls them on worker threads, each thread through its own cursor.
- Failures of the storage itself raise `StorageError`; reads bounded by a time limit raise
  `SqlTimeout` when cut off and `SqlFailed` when the database refuses them (both `SqlError`s,
  whose `message` may be shown to a caller). No method raises anything else on purpose.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import duckdb
import pyarrow as pa

from .log_filter import LogFilter

Values = tuple[Any, ...]  # one row's values in `COLUMN_NAMES` order


@dataclass(frozen=True, slots=True)
class PruneResult:
    """How many rows were deleted before `cutoff`, and whether the checkpoint that frees space ran."""

    cutoff: datetime
    deleted: int
    checkpointed: bool


@dataclass(frozen=True, slots=True)
class PrunePreview:
    """What a prune before `cutoff` would delete: how many rows, and the first and last `started_at` among them."""

    cutoff: datetime
    count: int
    oldest: datetime | None
    newest: datetime | None

    def describe(self) -> str:
        """`12 rows, started 2025-01-02T... to 2025-03-04T..., before the cutoff 2025-...Z`."""
        span = f", started {_iso(self.oldest)} to {_iso(self.newest)}" if self.count else ""
        return f"{self.count:,} row{'s' if self.count != 1 else ''}{span} (before {_iso(self.cutoff)})"


def _iso(moment: datetime | None) -> str:
    return "-" if moment is None else moment.isoformat() + "Z"


@dataclass(slots=True)
class ExportRead:
    """A consistent read of a time range: its row count, its rows as Arrow batches, and `close`.

    `rows` holds the full `RequestLog` columns, oldest `started_at` first (rows without one last,
    then by id). Call `close` when done, also after a failure: it ends the read's transaction.
    """

    total: int
    rows: pa.RecordBatchReader
    close: Callable[[], None]


class LogStore(Protocol):
    """One request-log database. See the module docstring for the conventions of every method."""

    path: Path
    reopens: int  # times the database was reopened after the engine invalidated it
    last_reopen: tuple[datetime, str] | None  # (when, the engine's error) of the last reopen

    def close(self) -> None:
        """Release the database (idempotent). Later calls raise `StorageError`."""

    @property
    def closed(self) -> bool:
        """`close()` was called (the service's readiness check reads it)."""

    def count(self) -> int:
        """The number of stored rows."""

    # -- writes: one transaction per call; spans already stored, or repeated in the batch, are skipped

    def insert_values(self, rows: Sequence[Values], *, returning: bool = True) -> list[Values]:
        """Insert value tuples; return the stored rows (with id, created_at, updated_at) in id order,
        or nothing with `returning=False`. Raises `StorageError` (then nothing of the batch is stored)."""

    def insert_values_counted(self, rows: Sequence[Values]) -> int:
        """`insert_values` without returning rows: how many rows the database gained."""

    def insert_table(self, table: pa.Table, *, returning: bool = True) -> tuple[int, list[Values]]:
        """Insert an Arrow table of `values_to_arrow`'s columns: (rows gained, stored rows as `insert_values`)."""

    # -- reads

    def get_values(self, request_id: int) -> Values | None:
        """The row with that id, or `None` when there is none."""

    def get_many_values(self, request_ids: Sequence[int]) -> dict[int, Values]:
        """Rows by id; ids without a row are absent from the answer."""

    def list_page(
        self,
        log_filter: LogFilter | None = None,
        *,
        before_id: int | None = None,
        after_id: int | None = None,
        limit: int = 50,
        max_bytes: int | None = None,
    ) -> tuple[list[Values], bool]:
        """Rows matching `log_filter`, at most `limit`, and whether `max_bytes` cut the page short.

        Newest (highest id) first, below `before_id` when given; with only `after_id`, the rows
        just above it, oldest first. The first row is always returned, however large.
        """

    def stats(
        self,
        group_by: str,
        *,
        started_after: datetime | None = None,
        started_before: datetime | None = None,
        limit: int = 100,
        timeout: float | None = None,
    ) -> list[Values]:
        """Per group of `analytics.STATS_GROUPS[group_by]`, busiest first: (key, requests, p50, p95,
        p99, errors, error_rate). Raises `KeyError` for an unknown group, `SqlError` past `timeout`."""

    def list_summaries(
        self,
        log_filter: LogFilter | None = None,
        *,
        before_id: int | None = None,
        after_id: int | None = None,
        limit: int = 50,
    ) -> list[Values]:
        """`list_page`'s rows (same order and paging, no byte budget) with only the columns a list shows
        at a glance, `store_queries.SUMMARY_COLUMNS` in that order. The viewer's list and live mode."""

    def dashboard(self, part: str, *, timeout: float | None = None, **arguments: Any) -> list[Values]:
        """The viewer dashboard's query `part` over `started_after <= started_at < started_before`
        (`analytics.DASHBOARD_PARTS`): `time_series` (bucket start in unix seconds, requests, errors,
        bots, [p50, p95, p99] within 2%: `latency_histogram`) per `bucket_seconds`, optionally of one
        `route`; `routes` (`stats` by route, the busiest `limit`); `slowest` (id,
        started_at, duration, method, endpoint, status_code); `exceptions` (type, occurrences, last
        id). Raises `KeyError` for an unknown part, `SqlError` past `timeout`."""

    def view_names(self) -> tuple[str, ...]:
        """The analyst views the database offers beside `request_logs` (`analytics.VIEW_NAMES`)."""

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """This thread's DuckDB cursor over `request_logs` and the views (DuckDB-based backends only).

        For what runs *inside* the database rather than over the table: the analyst SQL sandbox
        (which opens a read-only transaction on a child cursor; the store must then be opened with
        `SERVICE_DUCKDB_CONFIG`) and the value checks of `exporter.isolation`. Never for writes.
        """

    # -- housekeeping

    def export_batches(
        self, since: datetime | None, until: datetime | None, *, batch_rows: int = 100_000
    ) -> ExportRead:
        """The rows with `since <= started_at < until` (either bound optional) as one consistent read."""

    def preview_prune(self, cutoff: datetime) -> PrunePreview:
        """What `prune(cutoff)` would delete; deletes nothing."""

    def prune(
        self,
        cutoff: datetime,
        *,
        batch_rows: int = 50_000,
        on_batch: Callable[[int], None] | None = None,
        checkpoint: bool = True,
    ) -> PruneResult:
        """Delete the rows with `started_at < cutoff` in batches of short transactions, then free the space.

        `on_batch(deleted_so_far)` runs after each committed batch (an exception from it stops the
        prune there; batches committed stay deleted). Raises `StorageError` when a delete fails.
        """
