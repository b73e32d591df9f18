"""The maintenance node's pass over the lake, on DuckLake's own tools, while writers keep committing.

- Retention deletes whole days: the table is partitioned by the day a request started, so the
  delete drops whole Parquet files and leaves no delete file behind.
- Duplicates that a change of the writer set let through (a retry routed to another writer than
  the one that stored it) are deleted, the lowest id of each span kept.
- `ducklake_flush_inlined_data` writes small commits kept in the catalog out to Parquet, and
  `ducklake_merge_adjacent_files` merges small files of a partition into one.
- `ducklake_expire_snapshots` forgets old snapshots, `ducklake_cleanup_old_files` removes the files
  they alone referenced and the files merged away, once scheduled for deletion longer ago than
  `cleanup_age` (a query that started before the merge still reads them: removed at once, a
  writer's check for spans already stored failed on a vanished file, tests/lake/test_multinode.py),
  and `ducklake_delete_orphaned_files` the files no snapshot ever referenced
  (a writer killed between writing its Parquet file and committing). Orphans are only removed
  when older than `orphan_age`, far longer than a commit may take, so a file being committed
  right now is never taken for one.

Each step is its own DuckLake transaction, tried again when a writer's commit conflicted with it.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable
from datetime import date, timedelta
from typing import TypeVar

import duckdb

from ..schema import TABLE
from .connect import LAKE

logger = logging.getLogger(__name__)
T = TypeVar("T")
_TRIES = 5


@dataclasses.dataclass(slots=True)
class PassResult:
    expired_rows: int = 0
    duplicates: int = 0
    merged_files: int = 0
    flushed_rows: int = 0
    expired_snapshots: int = 0
    removed_files: int = 0
    removed_orphans: int = 0
    conflicts: int = 0  # steps tried again after a concurrent writer's commit


def _retried(result: PassResult, step: Callable[[], T]) -> T:
    for attempt in range(_TRIES):
        try:
            return step()
        except duckdb.TransactionException:
            result.conflicts += 1
            if attempt == _TRIES - 1:
                raise
            time.sleep(0.05 * 2**attempt)
    raise AssertionError("unreachable")


def _count(cursor: duckdb.DuckDBPyConnection, sql: str, params: list[object] | None = None) -> int:
    # Counted in SQL: the functions' own rows hold TIMESTAMP WITH TIME ZONE, which DuckDB's Python
    # client can only hand over with pytz installed.
    row = cursor.execute(f"SELECT count(*) FROM ({sql})", params or []).fetchall()
    return int(row[0][0]) if row else 0


def delete_days_before(cursor: duckdb.DuckDBPyConnection, first_kept: date) -> int:
    """Delete every request that started before the day `first_kept` (whole partitions)."""
    found = cursor.execute(f"DELETE FROM {TABLE} WHERE started_at < ?", [first_kept]).fetchall()
    return int(found[0][0]) if found else 0


def delete_duplicates(cursor: duckdb.DuckDBPyConnection, from_id: int) -> int:
    """Delete later copies of a span among rows with id >= `from_id`; the first stored copy stays."""
    found = cursor.execute(
        f"""DELETE FROM {TABLE} WHERE id IN (
            SELECT id FROM (
                SELECT id, row_number() OVER (PARTITION BY trace_id, span_id ORDER BY id) AS copy
                FROM {TABLE} WHERE id >= ? AND trace_id IS NOT NULL AND span_id IS NOT NULL)
            WHERE copy > 1)""",
        [from_id],
    ).fetchall()
    return int(found[0][0]) if found else 0


def run_pass(
    cursor: duckdb.DuckDBPyConnection,
    *,
    retention_days: int | None,
    today: date,
    dedupe_from_id: int,
    snapshot_age: timedelta = timedelta(minutes=10),
    orphan_age: timedelta = timedelta(hours=1),
    cleanup_age: timedelta = timedelta(minutes=10),
) -> PassResult:
    """One maintenance pass; see the module's description for its steps and their order."""
    result = PassResult()
    if retention_days is not None:
        first_kept = today - timedelta(days=retention_days)
        result.expired_rows = _retried(result, lambda: delete_days_before(cursor, first_kept))
    result.duplicates = _retried(result, lambda: delete_duplicates(cursor, dedupe_from_id))
    result.flushed_rows = _retried(
        result, lambda: _count(cursor, f"SELECT * FROM ducklake_flush_inlined_data('{LAKE}')")
    )
    result.merged_files = _retried(
        result, lambda: _count(cursor, f"SELECT * FROM ducklake_merge_adjacent_files('{LAKE}', '{TABLE}')")
    )
    snapshots_before = f"now() - INTERVAL {int(snapshot_age.total_seconds())} SECOND"
    result.expired_snapshots = _retried(
        result,
        lambda: _count(cursor, f"SELECT * FROM ducklake_expire_snapshots('{LAKE}', older_than => {snapshots_before})"),
    )
    scheduled_before = f"now() - INTERVAL {int(cleanup_age.total_seconds())} SECOND"
    result.removed_files = _retried(
        result,
        lambda: _count(cursor, f"SELECT * FROM ducklake_cleanup_old_files('{LAKE}', older_than => {scheduled_before})"),
    )
    orphans_before = f"now() - INTERVAL {int(orphan_age.total_seconds())} SECOND"
    result.removed_orphans = _retried(
        result,
        lambda: _count(
            cursor, f"SELECT * FROM ducklake_delete_orphaned_files('{LAKE}', older_than => {orphans_before})"
        ),
    )
    logger.info("lake maintenance: %s", result)
    return result
