"""The analysis endpoints' part of the OpenAPI document (added through `openapi.add_paths`)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from exporter.analytics import STATS_GROUPS
from query_api import openapi
from query_api.errors import JSON
from query_api.keys import OPENAPI_KEY

# A refused or failed statement is `{"detail": ...}`; a missing or malformed argument, DRF's field errors.
_REFUSED_OR_INVALID = {
    "description": "Refused, failed or interrupted (`detail` says which), or invalid arguments (field errors).",
    "content": {
        JSON: {
            "schema": {"oneOf": [{"$ref": "#/components/schemas/Error"}, {"$ref": "#/components/schemas/FieldErrors"}]}
        }
    },
}
_ERRORS = {
    "400": _REFUSED_OR_INVALID,
    "401": {"$ref": "#/components/responses/Unauthorized"},
    "403": {"$ref": "#/components/responses/Forbidden"},
    "500": {"$ref": "#/components/responses/ServerError"},
}
_SECONDS = {"type": ["number", "null"], "description": "Seconds (exact quantile, linear interpolation)."}

_SQL = {
    "post": {
        "operationId": "runSql",
        "summary": "Run one read-only SQL statement in a sandbox (admin, or permission 3603).",
        "description": (
            "Only a query: SELECT (with DESCRIBE, SHOW, SUMMARIZE), EXPLAIN and read-only PRAGMAs. No file or "
            "network access, ATTACH, INSTALL/LOAD, SET, writes or DDL, and exactly one statement; a refusal is "
            "a 400 whose `detail` says why. The query is interrupted at the time limit (400 saying so) and "
            "at most the row cap is returned (`truncated` true). 429 when every SQL slot stays busy."
        ),
        "parameters": [
            {"name": "format", "in": "query", "required": False, "schema": {"type": "string", "enum": ["json", "csv"]}}
        ],
        "requestBody": {
            "required": True,
            "content": {
                JSON: {"schema": {"$ref": "#/components/schemas/SqlRequest"}},
                "application/x-www-form-urlencoded": {"schema": {"$ref": "#/components/schemas/SqlRequest"}},
                "text/plain": {"schema": {"type": "string"}},
            },
        },
        "responses": {
            **_ERRORS,
            "200": {
                "description": "The answer; `X-Reqlog-Truncated` says whether the row cap cut it.",
                "headers": {"X-Reqlog-Truncated": {"schema": {"type": "string", "enum": ["true", "false"]}}},
                "content": {
                    JSON: {"schema": {"$ref": "#/components/schemas/SqlResult"}},
                    "text/csv": {"schema": {"type": "string"}},
                },
            },
            "429": {"$ref": "#/components/responses/Throttled"},
        },
    }
}

_STATS = {
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
            **_ERRORS,
            "429": {"$ref": "#/components/responses/Throttled"},
        },
    }
}

_EXPORT = {
    "get": {
        "operationId": "exportRequestLogs",
        "summary": "Stream request logs as Arrow IPC, oldest first (admin, or permission 3603).",
        "parameters": [
            {"name": "since", "in": "query", "required": False, "schema": {"type": "string"}},
            {"name": "until", "in": "query", "required": False, "schema": {"type": "string"}},
        ],
        "responses": {
            "200": {
                "description": "An Arrow IPC stream of request-log rows; `X-Reqlog-Rows` gives their number.",
                "headers": {"X-Reqlog-Rows": {"schema": {"type": "string"}}},
                "content": {"application/vnd.apache.arrow.stream": {"schema": {"type": "string", "format": "binary"}}},
            },
            **_ERRORS,
            "429": {"$ref": "#/components/responses/Throttled"},
        },
    }
}

_PRUNE = {
    "post": {
        "operationId": "pruneRequestLogs",
        "summary": "Delete request logs that started more than `older_than` ago (admins only).",
        "requestBody": {
            "required": True,
            "content": {
                JSON: {
                    "schema": {
                        "type": "object",
                        "required": ["older_than"],
                        "properties": {"older_than": {"type": "string", "examples": ["30d", "12h", "2w"]}},
                    }
                }
            },
        },
        "responses": {
            "200": {
                "description": "What was deleted.",
                "content": {
                    JSON: {
                        "schema": {
                            "type": "object",
                            "properties": {
                                "deleted": {"type": "integer"},
                                "cutoff": {"type": "string", "format": "date-time"},
                                "checkpointed": {"type": "boolean"},
                            },
                        }
                    }
                },
            },
            **_ERRORS,
        },
    }
}

_SCHEMAS: dict[str, Any] = {
    "SqlRequest": {
        "type": "object",
        "required": ["sql"],
        "properties": {
            "sql": {"type": "string", "minLength": 1},
            "format": {"type": "string", "enum": ["json", "csv"]},
        },
    },
    "SqlResult": {
        "type": "object",
        "required": ["columns", "rows", "truncated"],
        "properties": {
            "columns": {"type": "array", "items": {"type": "string"}},
            "rows": {"type": "array", "items": {"type": "array"}},
            "truncated": {"type": "boolean"},
        },
        "additionalProperties": False,
    },
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


def register(app: web.Application) -> None:
    """Add the SQL, stats, export and prune operations (and a 429 response) to the app's OpenAPI document."""
    from query_api.sql.endpoint import EXPORT_PATH, PRUNE_PATH, SQL_PATH, STATS_PATH

    paths = {SQL_PATH: _SQL, STATS_PATH: _STATS, EXPORT_PATH: _EXPORT, PRUNE_PATH: _PRUNE}
    openapi.add_paths(app, paths, schemas=_SCHEMAS)
    responses = app[OPENAPI_KEY]["components"]["responses"]
    responses.setdefault(
        "Throttled",
        {
            "description": "Every SQL slot stayed busy; try again after `Retry-After` seconds.",
            "headers": {"Retry-After": {"schema": {"type": "string"}}},
            "content": {JSON: {"schema": {"$ref": "#/components/schemas/Error"}}},
        },
    )
