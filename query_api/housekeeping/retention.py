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
_AGE = re.compile(r"^\s*(\d{1,12})\s*([a-z]*)\s*$", re.IGNORECASE)
# Unambiguous spellings only: a lone `m` (minutes or months?) is refused, as is `M`. A month is 30 days
# and a year 365: retention needs a plain length of time, not a calendar.
_UNITS: dict[str, tuple[str, int]] = {
    "": ("days", 1),
    "d": ("days", 1),
    "day": ("days", 1),
    "days": ("days", 1),
    "h": ("hours", 1),
    "hour": ("hours", 1),
    "hours": ("hours", 1),
    "min": ("minutes", 1),
    "mins": ("minutes", 1),
    "minute": ("minutes", 1),
    "minutes": ("minutes", 1),
    "w": ("weeks", 1),
    "week": ("weeks", 1),
    "weeks": ("weeks", 1),
    "mo": ("days", 30),
    "month": ("days", 30),
    "months": ("days", 30),
    "y": ("days", 365),
    "year": ("days", 365),
    "years": ("days", 365),
}
UNITS_HELP = "min (minutes), h (hours), d (days, also a bare number), w (weeks), mo (30-day months), y (365-day years)"
_PER_DAY = {"minutes": 24 * 60, "hours": 24, "days": 1, "weeks": 1 / 7}
MAX_AGE = timedelta(days=100 * 365)  # past this the cutoff would be before any request log (and near datetime.min)


@dataclass(frozen=True, slots=True)
class PruneResult:
    """How many rows were deleted before `cutoff`, and whether the checkpoint that frees space ran."""

    cutoff: datetime
    deleted: int
    checkpointed: bool


def parse_age(text: str) -> timedelta:
    """`30d`, `12h`, `2w`, `90min`, `6mo`, `1y` or a bare number of days as a `timedelta`.

    Raises `ValueError` (its message lists the units) for anything else: an unknown or ambiguous
    unit such as `6m`, zero, or an age over `MAX_AGE`.
    """
    match = _AGE.match(text)
    unit = _UNITS.get(match.group(2).lower()) if match else None
    if match is None or unit is None or int(match.group(1)) <= 0:
        raise ValueError(f"expected an age such as 30d, 12h, 2w or 6mo, got {text!r}; units: {UNITS_HELP}")
    name, factor = unit
    number = int(match.group(1)) * factor
    # Compare before building the timedelta: timedelta(days=10**12) raises OverflowError.
    if number / _PER_DAY[name] > MAX_AGE.days:
        raise ValueError(f"{text!r} is longer than the longest age allowed ({MAX_AGE.days // 365} years)")
    return timedelta(**{name: number})


def cutoff_for(age: timedelta, *, now: datetime | None = None) -> datetime:
    """The naive-UTC moment `age` before `now` (default: the current time)."""
    current = now or datetime.now(UTC).replace(tzinfo=None)
    return current - age


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


def preview(con: duckdb.DuckDBPyConnection, cutoff: datetime) -> PrunePreview:
    """Count the rows a prune before `cutoff` would delete, and their date range; deletes nothing."""
    count, oldest, newest = con.execute(
        f"SELECT count(*), min(started_at), max(started_at) FROM {TABLE} WHERE started_at < ?", [cutoff]
    ).fetchall()[0]
    return PrunePreview(cutoff=cutoff, count=int(count), oldest=oldest, newest=newest)


def _iso(moment: datetime | None) -> str:
    return "-" if moment is None else moment.isoformat() + "Z"


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
