"""Every typed application key: what the service keeps on its `web.Application`, all declared here.

A room that needs state on the app declares its key here, next to the others, with the type of
what it holds; that type must live in a module that does not import this one.

- `SETTINGS_KEY`: the `ServiceSettings` the app was built with.
- `STORE_KEY`: the `LogStore` (today a DuckDB `RequestLogStore`, opened with `SERVICE_DUCKDB_CONFIG`),
  opened first when the app starts and closed last when it stops (`lifecycle.store_context`).
- `READER_KEY`: the `ReadPool` that runs blocking store reads off the event loop.
- `FETCHER_KEY`: the `RowFetcher` that serves retrieve-by-id, coalescing concurrent lookups.
- `RECENT_KEY`: the `RecentCache` of recently written rows in rendered form; the writer calls
  `app[RECENT_KEY].add(value_tuples)` with what the store's inserts returned, and pruning calls
  `discard` / `discard_before`.
- `ACCOUNTS_KEY`: the `AccountCache` (token hash -> account) that `auth.authorize` reads.
- `OPENAPI_KEY`: the OpenAPI document served at `/api/openapi.json`, built from the route table.
- `INGEST_KEY`: the OTLP receiver's writer, decoding pool, byte budget and counters.
- `SQL_POOL_KEY`, `SQL_SLOTS_KEY`: the threads of analyst SQL, stats, export and prune previews,
  and the semaphore that hands them out (`sql.slots`).
- `RETENTION_KEY`, `RETENTION_POOL_KEY`: the retention job's schedule and runs, and its thread.
- `STARTED_KEY`: (wall-clock datetime, monotonic seconds) of the service's start.
- `METRICS_KEY`: the app's Prometheus registry and event metrics (`ops.registry.ServiceMetrics`).
- `UI_SETTINGS_KEY`, `UI_KEY`: the viewer's settings, and its state once started (the cookie-signing
  key, signed-out sessions, the password-check slots).
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from exporter.log_store import LogStore
from query_api.accounts.cache import AccountCache
from query_api.housekeeping.retention import RetentionState
from query_api.ingest.state import Ingest
from query_api.logs.fetcher import RowFetcher
from query_api.logs.recent import RecentCache
from query_api.ops.registry import ServiceMetrics
from query_api.readpool import ReadPool
from query_api.settings import ServiceSettings
from query_api.ui.settings import UiSettings
from query_api.ui.state import UiState

SETTINGS_KEY = web.AppKey("reqlog_settings", ServiceSettings)
STORE_KEY = web.AppKey("reqlog_store", LogStore)
READER_KEY = web.AppKey("reqlog_reader", ReadPool)
FETCHER_KEY = web.AppKey("reqlog_fetcher", RowFetcher)
RECENT_KEY = web.AppKey("reqlog_recent", RecentCache)
ACCOUNTS_KEY = web.AppKey("reqlog_accounts", AccountCache)
OPENAPI_KEY = web.AppKey("reqlog_openapi", dict[str, Any])
INGEST_KEY = web.AppKey("reqlog_ingest", Ingest)
SQL_POOL_KEY = web.AppKey("reqlog_sql_pool", ReadPool)
SQL_SLOTS_KEY = web.AppKey("reqlog_sql_slots", asyncio.Semaphore)
RETENTION_KEY = web.AppKey("reqlog_retention", RetentionState)
RETENTION_POOL_KEY = web.AppKey("reqlog_retention_pool", ReadPool)
STARTED_KEY = web.AppKey("reqlog_started", tuple)
METRICS_KEY = web.AppKey("reqlog_metrics", ServiceMetrics)
UI_SETTINGS_KEY = web.AppKey("reqlog_ui_settings", UiSettings)
UI_KEY = web.AppKey("reqlog_ui", UiState)
