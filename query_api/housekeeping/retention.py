"""Retention's terms and state: ages such as `30d` (`parse_age`), cutoffs, and the daily job's `RetentionState`.

The deletes themselves are the store's (`LogStore.prune`, `exporter.store_housekeeping`); the job
that runs them is `retention_job`, the endpoint `prune_endpoint`, the command `cli.analysis`.
"""

from __future__ import annotations

import asyncio
import re
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from exporter.log_store import PruneResult

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


RETENTION_FIRST_DELAY = 60.0
RETENTION_INTERVAL = 24 * 3600.0


@dataclass
class RetentionState:
    """The job's schedule (set before the app starts to change it) and what its runs did."""

    first_delay: float = RETENTION_FIRST_DELAY
    interval: float = RETENTION_INTERVAL
    scheduled: bool = False
    runs: int = 0
    last: PruneResult | None = None
    ran: asyncio.Event = field(default_factory=asyncio.Event)
    stopping: threading.Event = field(default_factory=threading.Event)
