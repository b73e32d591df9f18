"""The DuckDB store's housekeeping SQL: export reads, retention's batched deletes, and compaction.

Retention deletes go in batches of ids, each its own short transaction, so the writer and the
readers of a running service are never held up by one huge transaction, and memory stays flat.
Rows with no `started_at` and rows at or after the cutoff are never touched.

How DuckDB reclaims space (its "Reclaiming Space" page): a DELETE only marks rows; `CHECKPOINT`
writes the table again without them and returns the freed blocks to the file's free list, where
new rows reuse them. The file itself does not shrink. To make it smaller, copy the database into
a fresh file while no service holds it (`compact`, which `reqlog prune --compact` calls).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import duckdb

from .cursors import sibling_cursor
from .log_filter import LogFilter
from .log_store import ExportRead, PrunePreview, PruneResult
from .row import COLUMN_NAMES
from .schema import TABLE
from .value_parts import ROWS_TABLE

logger = logging.getLogger("reqlog.retention")


def export_read(
    con: duckdb.DuckDBPyConnection, since: datetime | None, until: datetime | None, *, batch_rows: int
) -> ExportRead:
    """Open a consistent read of `[since, until)` on a new cursor of `con` (see `LogStore.export_batches`).

    The count and the rows come from one read-only transaction, so they agree while writes go on.
    """
    clauses, params = LogFilter(started_after=since, started_before=until).sql()
    where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
    count_sql = f"SELECT count(*) FROM {TABLE}{where}"
    rows_sql = f"SELECT {', '.join(COLUMN_NAMES)} FROM {TABLE}{where} ORDER BY started_at NULLS LAST, id"
    cursor = sibling_cursor(con)
    try:
        cursor.execute("BEGIN TRANSACTION READ ONLY")
        # fetchall: DuckDB 2 refuses more work on a cursor whose last result was not read to the end.
        total = int(cursor.execute(count_sql, params).fetchall()[0][0])
        reader = cursor.sql(rows_sql, params=params).to_arrow_reader(batch_rows)
    except BaseException:
        cursor.close()
        raise
    return ExportRead(total=total, rows=reader, close=cursor.close)


def preview(con: duckdb.DuckDBPyConnection, cutoff: datetime) -> PrunePreview:
    """Count the rows a prune before `cutoff` would delete, and their date range; deletes nothing."""
    count, oldest, newest = con.execute(
        f"SELECT count(*), min(started_at), max(started_at) FROM {TABLE} WHERE started_at < ?", [cutoff]
    ).fetchall()[0]
    return PrunePreview(cutoff=cutoff, count=int(count), oldest=oldest, newest=newest)


def prune(
    con: duckdb.DuckDBPyConnection,
    cutoff: datetime,
    *,
    batch_rows: int,
    on_batch: Callable[[int], None] | None = None,
    checkpoint: bool = True,
) -> PruneResult:
    """Delete the rows with `started_at < cutoff` through `con` (this thread's cursor), then checkpoint.

    The checkpoint is skipped (and `checkpointed` is False) when DuckDB refuses it because other
    transactions are running; the next automatic checkpoint frees the space then. Raises
    `duckdb.Error` when a delete fails (batches already committed stay deleted).
    """
    deleted = 0
    while True:
        # Oldest ids first: ids grow with insertion, so each batch is a compact range.
        rows = con.execute(
            f"DELETE FROM {ROWS_TABLE} WHERE id IN "
            f"(SELECT id FROM {ROWS_TABLE} WHERE started_at < ? ORDER BY id LIMIT ?) RETURNING id",
            [cutoff, batch_rows],
        ).fetchall()
        if not rows:
            break
        deleted += len(rows)
        if on_batch is not None:
            on_batch(deleted)
    checkpointed = _checkpoint(con) if checkpoint and deleted else False
    return PruneResult(cutoff=cutoff, deleted=deleted, checkpointed=checkpointed)


def _checkpoint(con: duckdb.DuckDBPyConnection, *, attempts: int = 5) -> bool:
    for attempt in range(attempts):
        try:
            con.execute("CHECKPOINT").fetchall()
            return True
        except duckdb.Error as exc:  # usually other transactions running: try again shortly
            logger.info("checkpoint after pruning postponed (%s)", exc)
            time.sleep(0.2 * (attempt + 1))
    return False


def compact(path: str | Path) -> tuple[int, int]:
    """Rewrite the database file at `path` into a fresh file and swap it in; return (bytes before, after).

    Only while no other process holds the file (raises `duckdb.IOException` otherwise). The old
    file is kept as `<name>.bak` until the copy has replaced it.
    """
    path = Path(path)
    fresh = path.with_name(path.name + ".compact")
    backup = path.with_name(path.name + ".bak")
    fresh.unlink(missing_ok=True)
    before = path.stat().st_size
    con = duckdb.connect()
    try:
        # Read-write, so the checkpoint folds any WAL into the file: no WAL may outlive the swap.
        con.execute("ATTACH ? AS old", [str(path)])
        con.execute("CHECKPOINT old")
        con.execute("ATTACH ? AS fresh", [str(fresh)])
        con.execute("COPY FROM DATABASE old TO fresh")
        con.execute("DETACH fresh")
        con.execute("DETACH old")
    finally:
        con.close()
    path.replace(backup)
    fresh.replace(path)
    backup.unlink()
    return before, path.stat().st_size
