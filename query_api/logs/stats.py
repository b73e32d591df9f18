"""`GET /api/metrics/request_logs/stats` (admin or staff with 3601): count, p50/p95/p99 duration and
error rate per group, busiest first (`LogStore.stats`), on one of the analysis threads."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from exporter.analytics import STATS_GROUPS
from exporter.errors import SqlError
from query_api.auth import PERM_VIEW_LOGS, authorize
from query_api.errors import JSON, ApiError, ValidationError
from query_api.keys import SETTINGS_KEY, STORE_KEY
from query_api.logs.filters import PARAMETERS
from query_api.sql.endpoint import ANALYSIS_ERRORS
from query_api.sql.slots import sql_slot

PATH = "/api/metrics/request_logs/stats"
STATS_MAX_LIMIT = 1000

_parse_datetime = PARAMETERS["started_after"][1]  # the list filter's parser: DRF's message, UTC handling
_parse_integer = PARAMETERS["status_code"][1]


async def get_stats(request: web.Request) -> web.Response:
    """Count, p50/p95/p99 duration (seconds) and error rate per group, busiest groups first."""
    await authorize(request, PERM_VIEW_LOGS)
    group_by, after, before, limit = _stats_arguments(request.query)
    store = request.app[STORE_KEY]
    timeout = request.app[SETTINGS_KEY].sql_timeout
    async with sql_slot(request.app) as pool:
        try:
            rows = await pool.run(
                lambda: store.stats(group_by, started_after=after, started_before=before, limit=limit, timeout=timeout)
            )
        except SqlError as exc:
            raise ApiError(400, exc.message) from None
    results = [
        {
            group_by: key,
            "count": count,
            "p50": _seconds(p50),
            "p95": _seconds(p95),
            "p99": _seconds(p99),
            "errors": errors,
            "error_rate": round(error_rate, 6),
        }
        for key, count, p50, p95, p99, errors, error_rate in rows
    ]
    body = {
        "group_by": group_by,
        "started_after": request.query.get("started_after") or None,
        "started_before": request.query.get("started_before") or None,
        "results": results,
    }
    return web.Response(body=orjson.dumps(body), content_type=JSON)


def _stats_arguments(query: Any) -> tuple[str, Any, Any, int]:
    errors: dict[str, list[str]] = {}
    group_by = query.get("group_by", "").strip() or "route"
    if group_by not in STATS_GROUPS:
        errors["group_by"] = [f'"{group_by}" is not a valid choice.']
    bounds = []
    for name in ("started_after", "started_before"):
        raw = query.get(name, "")
        try:
            bounds.append(_parse_datetime(raw) if raw.strip() else None)
        except ValueError as exc:
            errors[name] = [str(exc)]
            bounds.append(None)
    limit = 100
    if query.get("limit", "").strip():
        try:
            limit = _parse_integer(query["limit"])
        except ValueError as exc:
            errors["limit"] = [str(exc)]
        else:
            if limit < 1:
                errors["limit"] = ["Ensure this value is greater than or equal to 1."]
            elif limit > STATS_MAX_LIMIT:
                errors["limit"] = [f"Ensure this value is less than or equal to {STATS_MAX_LIMIT}."]
    if errors:
        raise ValidationError(errors)
    return group_by, bounds[0], bounds[1], limit


def _seconds(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


_SECONDS = {"type": ["number", "null"], "description": "Seconds (exact quantile, linear interpolation)."}

OPERATIONS = {
    "get": {
        "operationId": "requestLogStats",
        "summary": "Count, p50/p95/p99 duration and error rate per group (staff with 3601, or admin).",
        "parameters": [
            {
                "name": "group_by",
                "in": "query",
                "required": False,
                "schema": {"type": "string", "enum": sorted(STATS_GROUPS), "default": "route"},
            },
            {
                "name": "started_after",
                "in": "query",
                "required": False,
                "schema": {"type": "string", "format": "date-time"},
            },
            {
                "name": "started_before",
                "in": "query",
                "required": False,
                "schema": {"type": "string", "format": "date-time"},
            },
            {
                "name": "limit",
                "in": "query",
                "required": False,
                "schema": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100},
            },
        ],
        "responses": {
            "200": {
                "description": "Groups, busiest first.",
                "content": {JSON: {"schema": {"$ref": "#/components/schemas/Stats"}}},
            },
            **ANALYSIS_ERRORS,
            "429": {"$ref": "#/components/responses/Throttled"},
        },
    }
}

SCHEMAS: dict[str, Any] = {
    "Stats": {
        "type": "object",
        "required": ["group_by", "started_after", "started_before", "results"],
        "properties": {
            "group_by": {"type": "string", "enum": sorted(STATS_GROUPS)},
            "started_after": {"type": ["string", "null"]},
            "started_before": {"type": ["string", "null"]},
            "results": {
                "type": "array",
                "items": {
                    "type": "object",
                    "description": "The group's value under the `group_by` name, then its figures.",
                    "required": ["count", "p50", "p95", "p99", "errors", "error_rate"],
                    "properties": {
                        "count": {"type": "integer"},
                        "p50": _SECONDS,
                        "p95": _SECONDS,
                        "p99": _SECONDS,
                        "errors": {"type": "integer", "description": "Status >= 500 or an exception."},
                        "error_rate": {"type": "number"},
                    },
                },
            },
        },
    },
}
