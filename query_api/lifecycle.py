"""The lifecycle contexts of what every room shares: the store (with its readers) and the accounts.

Each is an aiohttp cleanup context: the code before `yield` runs when the app starts, the code
after it when the app stops, in the reverse order of `app.LIFECYCLE`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from functools import partial

from aiohttp import web

from exporter.store import SERVICE_DUCKDB_CONFIG, RequestLogStore
from query_api.accounts.cache import AccountCache
from query_api.accounts.pg import lake_config, open_accounts
from query_api.keys import ACCOUNTS_KEY, FETCHER_KEY, READER_KEY, RECENT_KEY, SETTINGS_KEY, STORE_KEY
from query_api.logs.fetcher import RowFetcher
from query_api.logs.recent import warm
from query_api.readpool import ReadPool

logger = logging.getLogger("reqlog.service")

Lifecycle = Callable[[web.Application], AsyncIterator[None]]


async def store_context(app: web.Application) -> AsyncIterator[None]:
    """The store, the reader threads and the retrieve fetcher; the store closes last of all."""
    settings = app[SETTINGS_KEY]
    # Opening replays the WAL, which can take a while on a big file: keep the loop free meanwhile.
    store: RequestLogStore
    if settings.backend == "ducklake":
        from exporter.lake import LakeStore  # only the lake needs psycopg and the DuckLake extensions

        lake, read_only = lake_config(settings), settings.role == "query"
        store = await asyncio.to_thread(LakeStore, lake, read_only=read_only, memory_limit=settings.memory_limit)
    else:
        store = await asyncio.to_thread(
            RequestLogStore,
            settings.db,
            memory_limit=settings.memory_limit,
            checkpoint_threshold=settings.checkpoint_threshold,
            config=SERVICE_DUCKDB_CONFIG,
        )
    app[STORE_KEY] = store
    app[READER_KEY] = ReadPool(settings.read_threads)
    app[FETCHER_KEY] = RowFetcher(store, app[READER_KEY])
    try:
        yield
    finally:
        await asyncio.to_thread(app[READER_KEY].close)
        await asyncio.to_thread(store.close)
        logger.info("request-log store closed")


async def accounts_context(app: web.Application) -> AsyncIterator[None]:
    """The accounts database and its cache, refreshed in the background."""
    settings = app[SETTINGS_KEY]
    db = await asyncio.to_thread(open_accounts, settings)
    cache = AccountCache(db, interval=settings.account_refresh_interval)
    app[ACCOUNTS_KEY] = cache
    poller = asyncio.create_task(cache.run(), name="reqlog-accounts")
    try:
        yield
    finally:
        poller.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await poller
        cache.flush_use()  # when tokens were last used, up to the stop
        db.close()


async def warm_recent_cache(app: web.Application) -> AsyncIterator[None]:
    """With `warm_cache` on, load the newest rows into the recent-rows cache, up to its byte budget
    and for at most `warm_cache_seconds` (the service answers nothing until it is done).

    The newest rows are the likeliest to be asked for. This runs before the server accepts
    connections (so no write races it, and the cache keeps id order), on a reader thread: about
    3 s for 64 MiB of rows, none of it on the event loop.
    """
    cache = app[RECENT_KEY]
    if app[SETTINGS_KEY].warm_cache and cache.max_bytes > 0:
        started = time.perf_counter()
        settings = app[SETTINGS_KEY]
        warming = partial(warm, step_bytes=settings.list_page_bytes, max_seconds=settings.warm_cache_seconds)
        stopped = await app[READER_KEY].run(warming, app[STORE_KEY], cache)
        logger.info(
            "recent cache warmed with %d rows (%d bytes) in %.1f s%s",
            len(cache),
            cache.nbytes,
            time.perf_counter() - started,
            "" if stopped is None else f", stopped {stopped}",
        )
    yield
