"""The application factory: `create_app(settings)` wires the store, accounts, caches and routes.

Lifecycle: resources open in `cleanup_ctx` order when the app starts and close in reverse order
when it stops. The store's context is registered first, so it closes last: the ingest writer
(`setup_ingest`, registered after it) commits its pending rows while the store is still open.
`web.run_app` turns SIGINT/SIGTERM into that orderly shutdown after in-flight requests finish.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from functools import partial

from aiohttp import web

from exporter.store import SERVICE_DUCKDB_CONFIG, RequestLogStore

from . import openapi, views
from .account_cache import AccountCache
from .accounts import AccountDB
from .errors import error_middleware
from .fetcher import RowFetcher
from .ingest import setup_ingest
from .keys import ACCOUNTS_KEY, FETCHER_KEY, OPENAPI_KEY, READER_KEY, RECENT_KEY, SETTINGS_KEY, STORE_KEY
from .readpool import ReadPool
from .recent import RecentCache, warm
from .service_status import setup_service_status
from .settings import ServiceSettings
from .sql_api import setup_sql
from .ui import UiSettings, setup_ui

logger = logging.getLogger("reqlog.service")


def create_app(settings: ServiceSettings, ui_settings: UiSettings | None = None) -> web.Application:
    """The reqlog service as an aiohttp application (nothing is opened until it starts)."""
    app = web.Application(middlewares=[error_middleware], client_max_size=settings.client_max_size)
    app[SETTINGS_KEY] = settings
    app[RECENT_KEY] = RecentCache(settings.recent_cache_bytes)
    app[OPENAPI_KEY] = openapi.base_document()
    app.on_response_prepare.append(_security_headers)
    app.cleanup_ctx.append(_store_context)
    app.cleanup_ctx.append(_accounts_context)
    if settings.warm_cache:
        app.on_startup.append(_warm_recent_cache)
    views.setup_routes(app)
    openapi.setup_routes(app)
    setup_ingest(app)
    setup_sql(app)
    setup_service_status(app)
    setup_ui(app, ui_settings)
    return app


# What Django's default middleware (SecurityMiddleware, XFrameOptionsMiddleware) adds to every answer.
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}


async def _security_headers(request: web.Request, response: web.StreamResponse) -> None:
    # A response-prepare signal, not a middleware: it also reaches streamed answers and the ones
    # aiohttp makes itself. `setdefault`, as Django does, so a handler's own value wins.
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)


async def _store_context(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS_KEY]
    # Opening replays the WAL, which can take a while on a big file: keep the loop free meanwhile.
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


async def _accounts_context(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS_KEY]
    db = AccountDB(settings.accounts_path)
    cache = AccountCache(db, interval=settings.account_refresh_interval)
    app[ACCOUNTS_KEY] = cache
    poller = asyncio.create_task(cache.run(), name="reqlog-accounts")
    try:
        yield
    finally:
        poller.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await poller
        db.close()


async def _warm_recent_cache(app: web.Application) -> None:
    # The newest rows are the likeliest to be asked for: load them up to the cache's byte budget.
    # This runs before the server accepts connections (so no write races it, and the cache keeps
    # id order), on a reader thread: about 3 s for 64 MiB of rows, none of it on the event loop.
    cache = app[RECENT_KEY]
    if cache.max_bytes <= 0:
        return
    started = time.perf_counter()
    await app[READER_KEY].run(partial(warm, step_bytes=app[SETTINGS_KEY].list_page_bytes), app[STORE_KEY], cache)
    logger.info(
        "recent cache warmed with %d rows (%d bytes) in %.1f s", len(cache), cache.nbytes, time.perf_counter() - started
    )
