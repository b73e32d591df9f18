"""The maintenance role: one node per lake runs `exporter.lake.housekeeping` every few minutes.

A PostgreSQL advisory lock, held by a connection of its own for as long as the node runs, makes a
second maintenance node wait: it takes over when the first one stops or dies (PostgreSQL releases
a session's locks when its connection ends).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import psycopg
from aiohttp import web

from exporter.lake.housekeeping import PassResult, run_pass
from query_api.keys import SETTINGS_KEY, STORE_KEY

logger = logging.getLogger("reqlog.maintenance")
LOCK_KEY = 0x7265716C6F67_03
# How far below the previous pass's newest id the duplicate search starts: retries come soon.
DEDUPE_OVERLAP_IDS = 1_000_000


@dataclasses.dataclass(slots=True)
class MaintenanceState:
    holds_lock: bool = False
    passes: int = 0
    failures: int = 0
    last: PassResult | None = None
    next_from_id: int = 1


async def maintenance_context(app: web.Application) -> AsyncIterator[None]:
    """The maintenance task, from the start of the app to its stop (a cleanup context of `app.LIFECYCLE`)."""
    task = asyncio.create_task(_run(app, MaintenanceState()), name="reqlog-lake-maintenance")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _run(app: web.Application, state: MaintenanceState) -> None:
    settings = app[SETTINGS_KEY]
    lock = await psycopg.AsyncConnection.connect(settings.lake_catalog, autocommit=True)
    try:
        while not state.holds_lock:
            row = await (await lock.execute("SELECT pg_try_advisory_lock(%s)", [LOCK_KEY])).fetchone()
            state.holds_lock = bool(row and row[0])
            if not state.holds_lock:
                await asyncio.sleep(1.0)  # another maintenance node runs: wait to take over
        logger.info("this node now runs the lake's maintenance")
        while True:
            try:
                state.last = await asyncio.to_thread(_pass, app, state)
                state.passes += 1
            except Exception:  # a failed pass must not end the schedule; the next one retries
                state.failures += 1
                logger.exception("lake maintenance pass failed")
            await asyncio.sleep(settings.lake_maintenance_interval)
    finally:
        await lock.close()


def _pass(app: web.Application, state: MaintenanceState) -> PassResult:
    settings, store = app[SETTINGS_KEY], app[STORE_KEY]
    cursor = store.cursor()
    (max_id,) = cursor.execute("SELECT coalesce(max(id), 0) FROM request_logs").fetchall()[0]
    result = run_pass(
        cursor,
        retention_days=settings.retention_days,
        today=datetime.now(UTC).date(),
        dedupe_from_id=state.next_from_id,
    )
    state.next_from_id = max(1, int(max_id) - DEDUPE_OVERLAP_IDS)
    return result
