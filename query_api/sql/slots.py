"""The analysis threads: SQL, stats, export and prune previews run on a few threads of their own.

So a slow analyst query never takes a thread from the API's reads. A caller that finds every
slot busy for longer than the SQL time limit gets 429 with `Retry-After`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from aiohttp import web

from query_api.errors import TooManyRequests
from query_api.keys import SETTINGS_KEY, SQL_POOL_KEY, SQL_SLOTS_KEY
from query_api.readpool import ReadPool

SQL_THREADS = 2


async def sql_context(app: web.Application) -> AsyncIterator[None]:
    """The analysis threads and their slots, for the app's lifetime (`app.LIFECYCLE`)."""
    app[SQL_POOL_KEY] = ReadPool(SQL_THREADS)
    app[SQL_SLOTS_KEY] = asyncio.Semaphore(SQL_THREADS)
    try:
        yield
    finally:
        await asyncio.to_thread(app[SQL_POOL_KEY].close)


@contextlib.asynccontextmanager
async def sql_slot(app: web.Application) -> AsyncIterator[ReadPool]:
    """Hold one analysis slot; raise `TooManyRequests` when none frees within the SQL time limit."""
    timeout = app[SETTINGS_KEY].sql_timeout
    slots = app[SQL_SLOTS_KEY]
    try:
        await asyncio.wait_for(slots.acquire(), timeout)
    except TimeoutError:
        raise TooManyRequests(retry_after=max(1, round(timeout))) from None
    try:
        yield app[SQL_POOL_KEY]
    finally:
        slots.release()
