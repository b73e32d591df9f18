"""The dashboard: traffic, errors and latency over time (charts drawn in the browser), and top lists.

The page is rendered with its tables (busiest routes, as the stats endpoint counts them, slowest
requests, top exceptions); `dashboard.js` then fetches `/ui/dashboard/series` (same query string) and
draws the charts with the vendored uPlot. All SQL is in `exporter.analytics`; it runs on the analysis
threads with the SQL time limit, as the stats endpoint's does.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson
from aiohttp import web

from exporter.errors import SqlError
from exporter.log_store import LogStore
from query_api.auth import PERM_VIEW_LOGS
from query_api.errors import JSON, ApiError, ValidationError
from query_api.keys import SETTINGS_KEY, STORE_KEY
from query_api.logs.filters import PARAMETERS
from query_api.sql.slots import sql_slot

from .access import viewer
from .listing import RANGES
from .render import page, render

DEFAULT_RANGE = "24h"
TOP = 10
POINTS = 120  # about this many buckets per chart
_STEPS = (60, 300, 900, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 86400, 7 * 86400)
_parse_datetime = PARAMETERS["started_after"][1]


def time_range(query: Any, now: datetime | None = None) -> tuple[str, datetime, datetime]:
    """`(range name, start, end)` from `range` (a preset or `custom` with `started_after`/`started_before`)."""
    end = (now or datetime.now(UTC)).replace(tzinfo=None)
    name = query.get("range") or DEFAULT_RANGE
    if name in RANGES:
        return name, end - RANGES[name], end
    if name != "custom":
        raise ValidationError({"range": [f'"{name}" is not a valid choice.']})
    errors: dict[str, list[str]] = {}
    bounds: list[datetime | None] = []
    for field in ("started_after", "started_before"):
        raw = query.get(field, "").strip()
        try:
            bounds.append(_parse_datetime(raw) if raw else None)
        except ValueError as exc:
            errors[field] = [str(exc)]
            bounds.append(None)
    if not errors and bounds[0] is None:
        errors["started_after"] = ["A custom range needs a start."]
    start, stop = bounds[0], bounds[1] or end
    if not errors and start is not None and start >= stop:
        errors["started_before"] = ["The end must be after the start."]
    if errors or start is None:
        raise ValidationError(errors)
    return name, start, stop


def bucket_seconds(start: datetime, end: datetime) -> int:
    """The smallest step in `_STEPS` that cuts the range into at most `POINTS` buckets."""
    span = (end - start).total_seconds()
    return next((step for step in _STEPS if span / step <= POINTS), _STEPS[-1])


async def _query(
    request: web.Request, read: Callable[[LogStore, float], list[tuple[Any, ...]]]
) -> list[tuple[Any, ...]]:
    """`read(store, timeout)` on the analysis threads with the SQL time limit; its `SqlError` as a 400."""
    store = request.app[STORE_KEY]
    timeout = request.app[SETTINGS_KEY].sql_timeout
    async with sql_slot(request.app) as pool:
        try:
            return await pool.run(read, store, timeout)
        except SqlError as exc:
            raise ApiError(400, exc.message) from None


@page
async def dashboard_page(request: web.Request) -> web.StreamResponse:
    found = viewer(request, PERM_VIEW_LOGS)
    name, start, end = time_range(request.query)
    bounds = {"started_after": start, "started_before": end}
    # Side by side on the analysis threads (two): the page waits for the slowest, not the sum.
    routes, slowest, exceptions = await asyncio.gather(
        _query(request, lambda store, timeout: store.dashboard("routes", **bounds, limit=TOP, timeout=timeout)),
        _query(request, lambda store, timeout: store.dashboard("slowest", **bounds, limit=TOP, timeout=timeout)),
        _query(request, lambda store, timeout: store.dashboard("exceptions", **bounds, limit=TOP, timeout=timeout)),
    )
    context = {
        "viewer": found,
        "form": dict(request.query.items()),
        "range": name,
        "ranges": list(RANGES),
        "start": start,
        "end": end,
        "routes": routes,
        "slowest": slowest,
        "exceptions": exceptions,
        "series_query": request.query_string,
        "route": request.query.get("route", ""),
    }
    return render(request, "dashboard.html", context)


@page
async def dashboard_series(request: web.Request) -> web.StreamResponse:
    """The charts' data as JSON columns: `t` (unix seconds), rpm, error_rate, p50/p95/p99 (ms), bots."""
    viewer(request, PERM_VIEW_LOGS)
    _, start, end = time_range(request.query)
    step = bucket_seconds(start, end)
    route = request.query.get("route") or None
    arguments = {"bucket_seconds": step, "started_after": start, "started_before": end, "route": route}
    rows = await _query(request, lambda store, timeout: store.dashboard("time_series", timeout=timeout, **arguments))
    per_minute = 60 / step
    body: dict[str, Any] = {
        "bucket_seconds": step,
        "start": int(start.replace(tzinfo=UTC).timestamp()),
        "end": int(end.replace(tzinfo=UTC).timestamp()),
        "t": [row[0] for row in rows],
        "rpm": [round(row[1] * per_minute, 3) for row in rows],
        "error_rate": [round(row[2] / row[1], 4) for row in rows],
        "p50": [_ms(row[4], 0) for row in rows],
        "p95": [_ms(row[4], 1) for row in rows],
        "p99": [_ms(row[4], 2) for row in rows],
        "requests": sum(row[1] for row in rows),
        "errors": sum(row[2] for row in rows),
        "bots": sum(row[3] for row in rows),
    }
    return web.Response(body=orjson.dumps(body), content_type=JSON)


def _ms(latency: list[float | None] | None, index: int) -> float | None:
    value = latency[index] if latency else None
    return None if value is None else round(value * 1000, 3)
