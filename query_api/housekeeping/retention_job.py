"""The service's daily retention job (`reqlog serve --retention-days N`).

It runs shortly after the service starts (a service restarted every night would otherwise never
prune) and then every `RETENTION_INTERVAL` seconds. The delete runs on a thread of its own, in
short batches (`LogStore.prune`), so the API keeps answering and the writer keeps writing. Rows
deleted from the store are dropped from the recent-rows cache as well, before and after, so the
API never serves a row that the store no longer has.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta

from aiohttp import web

from exporter.errors import RequestLogError
from exporter.log_store import PruneResult
from query_api.housekeeping.retention import BATCH_ROWS, cutoff_for
from query_api.keys import RECENT_KEY, RETENTION_KEY, RETENTION_POOL_KEY, SETTINGS_KEY, STORE_KEY
from query_api.readpool import ReadPool

logger = logging.getLogger("reqlog.retention")


class _Stopped(RequestLogError):
    """Raised between delete batches when the service is shutting down."""


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
    result = await app[RETENTION_POOL_KEY].run(lambda: store.prune(cutoff, on_batch=batch_done, batch_rows=batch_rows))
    recent.discard_before(cutoff)
    state.runs += 1
    state.last = result
    state.ran.set()
    logger.info("retention: deleted %d rows that started before %s", result.deleted, cutoff.isoformat())
    return result


async def retention_context(app: web.Application) -> AsyncIterator[None]:
    """The job's thread, and the daily job itself when `retention_days` is set (`app.LIFECYCLE`)."""
    state = app[RETENTION_KEY]
    state.stopping.clear()
    app[RETENTION_POOL_KEY] = ReadPool(1)
    task = None
    if app[SETTINGS_KEY].retention_days is not None:
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
        await asyncio.to_thread(app[RETENTION_POOL_KEY].close)


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
