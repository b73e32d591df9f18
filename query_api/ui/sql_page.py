"""The SQL page (admin or 3603): one statement, its answer as a table, CSV and JSON downloads.

The statement goes through the API's sandbox (`sql.sandbox.run_sql`) on the analysis threads with the
service's time, row and byte limits; a refusal or DuckDB's error is shown as the API words it. The
statement is POSTed (with the CSRF token), never put in a URL. Downloads are the API's own CSV
(spreadsheet-safe) and JSON renderings of the same answer.
"""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from exporter.analytics import VIEW_NAMES
from exporter.errors import SqlError
from exporter.log_store import LogStore
from exporter.schema import TABLE
from query_api.auth import PERM_SQL
from query_api.keys import SETTINGS_KEY, STORE_KEY
from query_api.sql.result import SqlResult
from query_api.sql.sandbox import run_sql
from query_api.sql.slots import sql_slot

from .access import check_csrf, viewer
from .render import page, render

SHOWN_ROWS = 1000  # rows drawn in the page; the downloads hold the whole answer
EXAMPLE = """SELECT method, route, count(*) AS requests, avg(duration) AS mean
FROM request_logs
GROUP BY ALL
ORDER BY requests DESC
LIMIT 20"""
_DOWNLOADS = {"csv": ("text/csv", "csv"), "json": ("application/json", "json")}


def cell(value: Any) -> str | None:
    """A value as the table shows it: `None` stays `None` (drawn as NULL), nested values as JSON."""
    if value is None:
        return None
    if isinstance(value, dict | list):
        return orjson.dumps(value).decode()
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


async def _run(request: web.Request, sql: str) -> SqlResult:
    settings = request.app[SETTINGS_KEY]
    store = request.app[STORE_KEY]
    async with sql_slot(request.app) as pool:
        return await pool.run(
            _execute, store, sql, settings.sql_timeout, settings.sql_row_limit, settings.sql_max_bytes
        )


def _execute(store: LogStore, sql: str, timeout: float, rows: int, max_bytes: int) -> SqlResult:
    return run_sql(store.cursor(), sql, timeout=timeout, row_limit=rows, byte_limit=max_bytes)


def _context(found: Any, sql: str) -> dict[str, Any]:
    return {"viewer": found, "sql": sql, "views": [TABLE, *VIEW_NAMES], "result": None, "error": None}


@page
async def sql_form(request: web.Request) -> web.StreamResponse:
    found = viewer(request, PERM_SQL)
    return render(request, "sql.html", _context(found, EXAMPLE))


@page
async def sql_run(request: web.Request) -> web.StreamResponse:
    found = viewer(request, PERM_SQL)
    form = await check_csrf(request, found)
    sql = form.get("sql", "")
    context = _context(found, sql)
    if not sql.strip():
        context["error"] = "Write one SQL statement."
        return render(request, "sql.html", context, status=400)
    try:
        result = await _run(request, sql)
    except SqlError as exc:
        context["error"] = exc.message
        # 200: the page worked, the statement did not (a 4xx would read as a broken page in the browser).
        return render(request, "sql.html", context)
    rows = orjson.loads(result.to_json())["rows"]
    context["result"] = {
        "columns": result.columns,
        "rows": [[cell(value) for value in row] for row in rows[:SHOWN_ROWS]],
        "count": len(rows),
        "truncated": result.truncated,
        "elapsed_ms": round(result.elapsed * 1000, 1),
    }
    return render(request, "sql.html", context)


@page
async def sql_download(request: web.Request) -> web.StreamResponse:
    found = viewer(request, PERM_SQL)
    form = await check_csrf(request, found)
    sql, kind = form.get("sql", ""), form.get("format", "csv")
    if kind not in _DOWNLOADS or not sql.strip():
        context = _context(found, sql)
        context["error"] = "Write one SQL statement, and pick CSV or JSON."
        return render(request, "sql.html", context, status=400)
    try:
        result = await _run(request, sql)
    except SqlError as exc:
        context = _context(found, sql)
        context["error"] = exc.message
        return render(request, "sql.html", context, status=400)
    content_type, extension = _DOWNLOADS[kind]
    body = result.to_csv().encode() if kind == "csv" else result.to_json()
    headers = {
        "Content-Disposition": f'attachment; filename="reqlog-query.{extension}"',
        "X-Reqlog-Truncated": "true" if result.truncated else "false",
    }
    return web.Response(body=body, content_type=content_type, charset="utf-8", headers=headers)
