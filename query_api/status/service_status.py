"""`GET /api/metrics/service`: what the running service has done since it started.

The counters an operator watches: OTLP ingest (requests, spans, rows, and the spans it ignored,
rejected or refused), the writer (transactions, rows written, failures, rows waiting), and the
cache of recently written rows (size, hits, misses). They are also logged when the service stops.
Same access rule as the request logs (permission 3601).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import orjson
from aiohttp import web

from exporter.row import format_timestamp
from query_api.auth import PERM_VIEW_LOGS, authorize
from query_api.keys import INGEST_KEY, RECENT_KEY, STARTED_KEY, STORE_KEY

PATH = "/api/metrics/service"


async def status_clock(app: web.Application) -> AsyncIterator[None]:
    """Note when the service started (`app.LIFECYCLE`, last: once everything else is up)."""
    app[STARTED_KEY] = (datetime.now(UTC).replace(tzinfo=None), time.monotonic())
    yield


async def service_status(request: web.Request) -> web.Response:
    await authorize(request, PERM_VIEW_LOGS)
    app = request.app
    started_at, started = app[STARTED_KEY]
    body: dict[str, Any] = {
        "started_at": format_timestamp(started_at),
        "uptime_seconds": round(time.monotonic() - started, 3),
        "ingest": None,
        "writer": None,
        "recent_cache": None,
        "store": None,
        # The decoder's memo tables (header names, content types, user agents, header keys): entries, bytes, budget.
        "decoder_caches": None,
    }
    store = app.get(STORE_KEY)
    if store is not None:
        last = store.last_reopen
        body["store"] = {
            # "reopened": DuckDB invalidated the database at least once and the file was opened again.
            "status": "ok" if last is None else "reopened",
            "reopens": store.reopens,
            "last_reopen_at": None if last is None else format_timestamp(last[0]),
            "last_reopen_error": None if last is None else last[1],
        }
    ingest = app.get(INGEST_KEY)
    if ingest is not None:
        body["decoder_caches"] = await ingest.decoder.cache_sizes()
        body["ingest"] = dataclasses.asdict(ingest.stats)
        writer = ingest.writer
        body["writer"] = {
            "transactions": writer.transactions,
            "rows_written": writer.rows_written,
            "failures": writer.failures,
            "duplicates": writer.duplicates,
            "pending_rows": writer.pending_rows,
        }
    cache = app.get(RECENT_KEY)
    if cache is not None:
        body["recent_cache"] = {
            "rows": len(cache),
            "bytes": cache.nbytes,
            "max_bytes": cache.max_bytes,
            "hits": cache.hits,
            "misses": cache.misses,
        }
    return web.Response(body=orjson.dumps(body), content_type="application/json")


def _counts(description: str, names: dict[str, str]) -> dict[str, Any]:
    return {
        "type": ["object", "null"],
        "description": description,
        "required": list(names),
        "properties": {name: {"type": "integer", "minimum": 0, "description": text} for name, text in names.items()},
    }


SCHEMAS = {
    "ServiceStatus": {
        "type": "object",
        "required": ["started_at", "uptime_seconds", "ingest", "writer", "recent_cache", "store", "decoder_caches"],
        "properties": {
            "started_at": {"type": "string", "format": "date-time"},
            "uptime_seconds": {"type": "number", "minimum": 0},
            "ingest": _counts(
                "OTLP ingest since start (null when ingest is not set up).",
                {
                    "requests": "POST /v1/traces requests decoded",
                    "spans": "spans in them",
                    "rows": "rows stored (HTTP server spans)",
                    "ignored": "spans that are not HTTP server spans",
                    "rejected": "malformed spans, reported in partialSuccess",
                    "refused": "requests answered 503 (writer behind or failing)",
                    "over_budget": "requests answered 503 (in-flight byte budget full: REQLOG_INGEST_INFLIGHT_BYTES)",
                    "too_large": "requests answered 413 (past REQLOG_INGEST_MAX_BYTES)",
                },
            ),
            "writer": _counts(
                "The ingest writer (null when ingest is not set up).",
                {
                    "transactions": "commits",
                    "rows_written": "rows the file gained (equals the rows stored)",
                    "failures": "batches that could not be written (answered 503, never acknowledged)",
                    "duplicates": "spans already stored, sent again by a retrying client (not written twice)",
                    "pending_rows": "rows waiting or being written now",
                },
            ),
            "store": {
                "type": ["object", "null"],
                "description": "The database file: reopened when DuckDB invalidated it (a failed checkpoint).",
                "required": ["status", "reopens", "last_reopen_at", "last_reopen_error"],
                "properties": {
                    "status": {"type": "string", "enum": ["ok", "reopened"]},
                    "reopens": {"type": "integer", "minimum": 0},
                    "last_reopen_at": {"type": ["string", "null"], "format": "date-time"},
                    "last_reopen_error": {"type": ["string", "null"], "description": "DuckDB's error that caused it"},
                },
            },
            "decoder_caches": {
                "type": ["object", "null"],
                "description": "The decoder's memo tables, by name (header names, content types, user agents, header "
                "keys: the tables the C header code reads, summed, with each one's budget), in a decoding process: "
                "entries, bytes held and byte budget (REQLOG_*_CACHE_BYTES). Null when ingest is not set up or the "
                "decoding process stayed busy for a second.",
                "additionalProperties": {
                    "type": "object",
                    "required": ["entries", "bytes", "max_bytes"],
                    "properties": {
                        "entries": {"type": "integer", "minimum": 0},
                        "bytes": {"type": "integer", "minimum": 0},
                        "max_bytes": {"type": "integer", "minimum": 0},
                    },
                },
            },
            "recent_cache": _counts(
                "The cache of recently written rows, in rendered form.",
                {
                    "rows": "rows held",
                    "bytes": "bytes held (JSON plus bookkeeping)",
                    "max_bytes": "the limit (0: off)",
                    "hits": "retrieves answered from it",
                    "misses": "retrieves that went to the store",
                },
            ),
        },
    }
}

OPERATIONS = {
    "get": {
        "operationId": "serviceStatus",
        "summary": "Counters since the service started: ingest, writer, recent-rows cache (permission 3601).",
        "responses": {
            "200": {
                "description": "The counters.",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ServiceStatus"}}},
            },
            "401": {"$ref": "#/components/responses/Unauthorized"},
            "403": {"$ref": "#/components/responses/Forbidden"},
        },
    }
}
