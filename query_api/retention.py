"""Retention: delete request logs that started before a cutoff, then checkpoint so DuckDB frees the space.

Deletes go in batches of ids, each its own short transaction, so the writer and the readers of a
running service are never held up by one huge transaction, and memory stays flat. Rows with no
`started_at` and rows at or after the cutoff are never touched.

How DuckDB reclaims space (its "Reclaiming Space" page): a DELETE only marks rows; `CHECKPOINT`
writes the table again without them and returns the freed blocks to the file's free list, where
new rows reuse them. The file itself does not shrink. To make it smaller, copy the database into
a fresh file while no service holds it (`reqlog prune --compact`, `compact`).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb

from exporter.schema import TABLE

logger = logging.getLogger("reqlog.retention")

BATCH_ROWS = 50_000
_AGE = re.compile(r"^\s*(\d+)\s*([dhwm]?)\s*$", re.IGNORECASE)
_UNITS = {"": "days", "d": "days", "h": "hours", "w": "weeks", "m": "minutes"}


@dataclass(frozen=True, slots=True)
class PruneResult:
    """How many rows were deleted before `cutoff`, and whether the checkpoint that frees space ran."""

    cutoff: datetime
    deleted: int
    checkpointed: bool


def parse_age(text: str) -> timedelta:
    """`30d`, `12h`, `2w`, `90m` or a bare number of days as a `timedelta`; raises `ValueError`."""
    match = _AGE.match(text)
    if not match or int(match.group(1)) <= 0:
        raise ValueError(f"expected an age such as 30d, 12h or 2w, got {text!r}")
    return timedelta(**{_UNITS[match.group(2).lower()]: int(match.group(1))})


def cutoff_for(age: timedelta, *, now: datetime | None = None) -> datetime:
    """The naive-UTC moment `age` before `now` (default: the current time)."""
    current = now or datetime.now(UTC).replace(tzinfo=None)
    return current - age


def prune(
    con: duckdb.DuckDBPyConnection,
    cutoff: datetime,
    *,
    batch_rows: int = BATCH_ROWS,
    on_batch: Callable[[int], None] | None = None,
    checkpoint: bool = True,
) -> PruneResult:
    """Delete the rows with `started_at < cutoff` through `con` (this thread's cursor), then checkpoint.

    `on_batch(deleted_so_far)` runs after each committed batch. The checkpoint is skipped (and
    `checkpointed` is False) when DuckDB refuses it because other transactions are running; the
    next automatic checkpoint frees the space then. Raises `duckdb.Error` when a delete fails
    (batches already committed stay deleted; running it again finishes the job).
    """
    deleted = 0
    while True:
        # Oldest ids first: ids grow with insertion, so each batch is a compact range.
        rows = con.execute(
            f"DELETE FROM {TABLE} WHERE id IN "
            f"(SELECT id FROM {TABLE} WHERE started_at < ? ORDER BY id LIMIT ?) RETURNING id",
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
