"""The service's daily retention job (`reqlog serve --retention-days N`).

It runs shortly after the service starts (a service restarted every night would otherwise never
prune) and then every `RETENTION_INTERVAL` seconds. The delete runs on a thread of its own, in
short batches (`retention.prune`), so the API keeps answering and the writer keeps writing. Rows
deleted from the store are dropped from the recent-rows cache as well, before and after, so the
API never serves a row that the store no longer has.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from aiohttp import web

from .keys import RECENT_KEY, SETTINGS_KEY, STORE_KEY
from .readpool import ReadPool
from .retention import BATCH_ROWS, PruneResult, cutoff_for, prune

logger = logging.getLogger("reqlog.retention")

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


RETENTION_KEY = web.AppKey("reqlog_retention", RetentionState)
_POOL_KEY = web.AppKey("reqlog_retention_pool", ReadPool)


class _Stopped(Exception):
    """Raised between delete batches when the service is shutting down."""


def setup(app: web.Application) -> None:
    """Prepare the job's state; the job itself starts only when `retention_days` is set."""
    app[RETENTION_KEY] = RetentionState()
    app.cleanup_ctx.append(_retention_context)


async def run_retention(
    app: web.Application,
    *,
    cutoff: datetime | None = None,
    on_batch: Callable[[int], None] | None = None,
    batch_rows: int = BATCH_ROWS,
) -> PruneResult:
    """Prune rows that started before `cutoff` (default: `retention_days` ago) now.

    The job's body, and `POST /api/metrics/request_logs/prune`'s. `on_batch(deleted_so_far)` runs on
    the pruning thread after each committed batch. Runs one at a time (a second caller waits).
    """
    if cutoff is None:
        days = app[SETTINGS_KEY].retention_days
        if days is None:
            raise RuntimeError("retention_days is not set")
        cutoff = cutoff_for(timedelta(days=days))
    state = app[RETENTION_KEY]
    store = app[STORE_KEY]
    recent = app[RECENT_KEY]

    def batch_done(deleted: int) -> None:
        if state.stopping.is_set():
            raise _Stopped
        if on_batch is not None:
            on_batch(deleted)

    recent.discard_before(cutoff)
    result = await app[_POOL_KEY].run(lambda: prune(store.cursor(), cutoff, on_batch=batch_done, batch_rows=batch_rows))
    recent.discard_before(cutoff)
    state.runs += 1
    state.last = result
    state.ran.set()
    logger.info("retention: deleted %d rows that started before %s", result.deleted, cutoff.isoformat())
    return result


async def _retention_context(app: web.Application) -> AsyncIterator[None]:
    state = app[RETENTION_KEY]
    state.stopping.clear()
    app[_POOL_KEY] = ReadPool(1)
    task = None
    # With the lake, retention is the maintenance node's (whole days, `exporter.lake.housekeeping`).
    if app[SETTINGS_KEY].retention_days is not None and app[SETTINGS_KEY].backend == "duckdb":
        task = asyncio.create_task(_daily(app), name="reqlog-retention")
        state.scheduled = True
    try:
        yield
    finally:
        state.stopping.set()  # a prune in progress stops after its current batch
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await asyncio.to_thread(app[_POOL_KEY].close)


async def _daily(app: web.Application) -> None:
    state = app[RETENTION_KEY]
    await asyncio.sleep(state.first_delay)
    while True:
        try:
            await run_retention(app)
        except _Stopped:
            return
        except Exception:  # a failed run must not end the schedule; the next one retries
            logger.exception("retention run failed")
        await asyncio.sleep(state.interval)
