"""`POST /api/metrics/sql` (admin or 3603): one sandboxed read-only statement (`sandbox`).

Answered as JSON `{"columns", "rows", "truncated"}` or CSV (`"format": "csv"`, `?format=csv` or
`Accept: text/csv`), on one of the analysis threads (`slots`).
"""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from exporter.errors import SqlError, SqlRefused, SqlTimeout
from exporter.log_store import LogStore
from query_api.auth import PERM_SQL, authorize
from query_api.errors import JSON, ApiError, ValidationError
from query_api.keys import SETTINGS_KEY, STORE_KEY
from query_api.ops import metrics as ops_metrics
from query_api.sql.result import SqlResult
from query_api.sql.sandbox import run_sql
from query_api.sql.slots import sql_slot

PATH = "/api/metrics/sql"
CSV = "text/csv"


async def sql_query(request: web.Request) -> web.StreamResponse:
    """Run one sandboxed read-only statement; 400 with a clear `detail` when it is refused or fails."""
    await authorize(request, PERM_SQL)
    sql, output = await _sql_arguments(request)
    settings = request.app[SETTINGS_KEY]
    store = request.app[STORE_KEY]
    async with sql_slot(request.app) as pool:
        try:
            result = await pool.run(
                _run, store, sql, settings.sql_timeout, settings.sql_row_limit, settings.sql_max_bytes
            )
        except SqlError as exc:
            ops_metrics.sql_outcome(request.app, _outcome(exc))
            raise ApiError(400, exc.message) from None
    ops_metrics.sql_outcome(request.app, "truncated" if result.truncated else "ok")
    headers = {"X-Reqlog-Truncated": "true" if result.truncated else "false"}
    if output == "csv":
        # Spreadsheet-safe unless the caller asks for raw cells (`?csv_raw=true`), for programs.
        raw = request.query.get("csv_raw", "").lower() in ("1", "true", "yes")
        body = result.to_csv(spreadsheet_safe=not raw).encode()
        return web.Response(body=body, content_type=CSV, charset="utf-8", headers=headers)
    return web.Response(body=result.to_json(), content_type=JSON, headers=headers)


def _outcome(exc: SqlError) -> str:
    return "timeout" if isinstance(exc, SqlTimeout) else "refused" if isinstance(exc, SqlRefused) else "error"


def _run(store: LogStore, sql: str, timeout: float, row_limit: int, byte_limit: int) -> SqlResult:
    return run_sql(store.cursor(), sql, timeout=timeout, row_limit=row_limit, byte_limit=byte_limit)


async def _sql_arguments(request: web.Request) -> tuple[str, str]:
    data: dict[str, Any] = {}
    if request.content_type == JSON:
        try:
            parsed = orjson.loads(await request.read())
        except orjson.JSONDecodeError as exc:
            raise ApiError(400, f"JSON parse error - {exc}") from None
        if not isinstance(parsed, dict):
            kind = type(parsed).__name__
            raise ValidationError({"non_field_errors": [f"Invalid data. Expected a dictionary, but got {kind}."]})
        data = parsed
    elif request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        data = dict(await request.post())
    elif request.content_type == "text/plain" or request.content_type == "application/sql":
        data = {"sql": await request.text()}
    sql = data.get("sql")
    output = (
        data.get("format")
        or request.query.get("format")
        or ("csv" if CSV in request.headers.get("Accept", "") else "json")
    )
    errors: dict[str, list[str]] = {}
    if sql is None:
        errors["sql"] = ["This field is required."]
    elif not isinstance(sql, str):
        errors["sql"] = ["Not a valid string."]
    elif not sql.strip():
        errors["sql"] = ["This field may not be blank."]
    if output not in ("json", "csv"):
        errors["format"] = [f'"{output}" is not a valid choice.']
    if errors:
        raise ValidationError(errors)
    return str(sql), str(output)


# A refused or failed statement is `{"detail": ...}`; a missing or malformed argument, DRF's field errors.
REFUSED_OR_INVALID = {
    "description": "Refused, failed or interrupted (`detail` says which), or invalid arguments (field errors).",
    "content": {
        JSON: {
            "schema": {"oneOf": [{"$ref": "#/components/schemas/Error"}, {"$ref": "#/components/schemas/FieldErrors"}]}
        }
    },
}
ANALYSIS_ERRORS = {
    "400": REFUSED_OR_INVALID,
    "401": {"$ref": "#/components/responses/Unauthorized"},
    "403": {"$ref": "#/components/responses/Forbidden"},
    "500": {"$ref": "#/components/responses/ServerError"},
}
_SECONDS = {"type": ["number", "null"], "description": "Seconds (exact quantile, linear interpolation)."}

OPERATIONS = {
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
            **ANALYSIS_ERRORS,
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

SCHEMAS: dict[str, Any] = {
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
}
