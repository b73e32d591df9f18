"""Typed application keys: what the service keeps on its `web.Application`.

- `SETTINGS_KEY`: the `ServiceSettings` the app was built with.
- `STORE_KEY`: the `RequestLogStore`, opened with `SERVICE_DUCKDB_CONFIG` when the app starts and
  closed last when it stops (its cleanup context is registered first).
- `ACCOUNTS_KEY`: the `AccountCache` (token hash -> account) that `auth.authorize` reads.
- `RECENT_KEY`: the `RecentCache` of recently written rows in rendered form; the writer calls
  `app[RECENT_KEY].add(value_tuples)` with what `insert_rows` / `insert_arrow` returned, and
  pruning calls `discard` / `discard_before`.
- `READER_KEY`: the `ReadPool` that runs blocking store reads off the event loop.
- `FETCHER_KEY`: the `RowFetcher` that serves retrieve-by-id, coalescing concurrent lookups.
- `OPENAPI_KEY`: the OpenAPI document served at `/api/openapi.json` (extend it with
  `openapi.add_paths`).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from exporter.store import RequestLogStore
from query_api.accounts.cache import AccountCache
from query_api.logs.fetcher import RowFetcher
from query_api.logs.recent import RecentCache
from query_api.readpool import ReadPool
from query_api.settings import ServiceSettings

SETTINGS_KEY = web.AppKey("reqlog_settings", ServiceSettings)
STORE_KEY = web.AppKey("reqlog_store", RequestLogStore)
ACCOUNTS_KEY = web.AppKey("reqlog_accounts", AccountCache)
RECENT_KEY = web.AppKey("reqlog_recent", RecentCache)
READER_KEY = web.AppKey("reqlog_reader", ReadPool)
FETCHER_KEY = web.AppKey("reqlog_fetcher", RowFetcher)
OPENAPI_KEY = web.AppKey("reqlog_openapi", dict[str, Any])
