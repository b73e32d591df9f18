"""Analysis endpoints: sandboxed SQL, dashboard stats, Arrow export, and the daily retention job.

- `POST /api/metrics/sql` (admin or 3603): one read-only statement (`sqlsandbox`), answered as JSON
  `{"columns", "rows", "truncated"}` or CSV (`"format": "csv"`, `?format=csv` or `Accept: text/csv`).
- `GET /api/metrics/request_logs/stats` (admin or staff with 3601): count, p50/p95/p99 and error rate
  per group.
- `GET /api/metrics/request_logs/export` (admin or 3603): the rows of a time range as an Arrow IPC
  stream, which `reqlog export --url` writes as Parquet. The row count comes first, in `X-Reqlog-Rows`.

Analyst queries run on their own few threads (`SQL_THREADS`), so a slow query never takes a thread
from the API's reads; a caller that finds every slot busy for longer than the time limit gets 429.
aiohttp matches the most explicit path first, so `/request_logs/stats` and `/request_logs/export`
win over `/request_logs/{id}`.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pyarrow as pa
from aiohttp import web

from exporter.analytics import STATS_GROUPS, stats_query
from exporter.row import format_timestamp
from exporter.store import RequestLogStore

from . import retention_task, sql_openapi
from .auth import PERM_SQL, PERM_VIEW_LOGS, authorize
from .errors import JSON, ApiError, PermissionDenied, TooManyRequests, ValidationError
from .export import ARROW_STREAM, parse_bound, read_batches
from .filters import PARAMETERS
from .keys import SETTINGS_KEY, STORE_KEY
from .ops import metrics as ops_metrics
from .readpool import ReadPool
from .retention import cutoff_for, parse_age
from .retention import preview as preview_prune
from .sql_result import SqlResult
from .sqlsandbox import SqlError, SqlRefused, SqlTimeout, run_sql, run_with_deadline

logger = logging.getLogger("reqlog.sql")

SQL_PATH = "/api/metrics/sql"
STATS_PATH = "/api/metrics/request_logs/stats"
EXPORT_PATH = "/api/metrics/request_logs/export"
PRUNE_PATH = "/api/metrics/request_logs/prune"
SQL_THREADS = 2
STATS_MAX_LIMIT = 1000
CSV = "text/csv"
SQL_POOL_KEY = web.AppKey("reqlog_sql_pool", ReadPool)
SQL_SLOTS_KEY = web.AppKey("reqlog_sql_slots", asyncio.Semaphore)

_parse_datetime = PARAMETERS["started_after"][1]  # the list filter's parser: DRF's message, UTC handling
_parse_integer = PARAMETERS["status_code"][1]


def setup_sql(app: web.Application) -> None:
    """Register the analysis routes (with DRF's trailing-slash twins), their threads and the retention job."""
    for path in (SQL_PATH, SQL_PATH + "/"):
        app.router.add_post(path, sql_query)
    for path in (STATS_PATH, STATS_PATH + "/"):
        app.router.add_get(path, request_log_stats, allow_head=False)
    for path in (EXPORT_PATH, EXPORT_PATH + "/"):
        app.router.add_get(path, export_logs, allow_head=False)
    for path in (PRUNE_PATH, PRUNE_PATH + "/"):
        app.router.add_post(path, prune_logs)
    app.cleanup_ctx.append(_sql_context)
    retention_task.setup(app)
    sql_openapi.register(app)


async def _sql_context(app: web.Application) -> AsyncIterator[None]:
    app[SQL_POOL_KEY] = ReadPool(SQL_THREADS)
    app[SQL_SLOTS_KEY] = asyncio.Semaphore(SQL_THREADS)
    try:
        yield
    finally:
        await asyncio.to_thread(app[SQL_POOL_KEY].close)


@contextlib.asynccontextmanager
async def _sql_slot(app: web.Application) -> AsyncIterator[ReadPool]:
    timeout = app[SETTINGS_KEY].sql_timeout
    slots = app[SQL_SLOTS_KEY]
    try:
        await asyncio.wait_for(slots.acquire(), timeout)
    except TimeoutError:
        raise TooManyRequests(retry_after=max(1, round(timeout))) from None
    try:
        yield app[SQL_POOL_KEY]
    finally:
        slots.release()


# -- POST /api/metrics/sql -------------------------------------------------------------------


async def sql_query(request: web.Request) -> web.StreamResponse:
    """Run one sandboxed read-only statement; 400 with a clear `detail` when it is refused or fails."""
    await authorize(request, PERM_SQL)
    sql, output = await _sql_arguments(request)
    settings = request.app[SETTINGS_KEY]
    store = request.app[STORE_KEY]
    async with _sql_slot(request.app) as pool:
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


def _run(store: RequestLogStore, sql: str, timeout: float, row_limit: int, byte_limit: int) -> SqlResult:
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


# -- GET /api/metrics/request_logs/stats -----------------------------------------------------


async def request_log_stats(request: web.Request) -> web.Response:
    """Count, p50/p95/p99 duration (seconds) and error rate per group, busiest groups first."""
    await authorize(request, PERM_VIEW_LOGS)
    group_by, after, before, limit = _stats_arguments(request.query)
    sql, params = stats_query(group_by, started_after=after, started_before=before, limit=limit)
    store = request.app[STORE_KEY]
    timeout = request.app[SETTINGS_KEY].sql_timeout
    async with _sql_slot(request.app) as pool:
        try:
            rows = await pool.run(_fetch, store, sql, params, timeout)
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


def _fetch(store: RequestLogStore, sql: str, params: list[Any], timeout: float) -> list[tuple[Any, ...]]:
    return run_with_deadline(store.cursor(), sql, params, timeout=timeout)


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


# -- GET /api/metrics/request_logs/export ----------------------------------------------------


async def export_logs(request: web.Request) -> web.StreamResponse:
    """Stream the rows with `since <= started_at < until` as Arrow IPC, oldest first."""
    await authorize(request, PERM_SQL)
    errors: dict[str, list[str]] = {}
    bounds = []
    for name, end in (("since", False), ("until", True)):
        try:
            bounds.append(parse_bound(request.query.get(name), end=end))
        except ValueError:
            errors[name] = ["Enter a date (YYYY-MM-DD) or a date-time (YYYY-MM-DDThh:mm[:ss][+HH:MM|Z])."]
    if errors:
        raise ValidationError(errors)
    store = request.app[STORE_KEY]
    async with _sql_slot(request.app) as pool:
        total, reader, cursor = await pool.run(lambda: read_batches(store.cursor(), bounds[0], bounds[1]))
        try:
            response = web.StreamResponse(headers={"Content-Type": ARROW_STREAM, "X-Reqlog-Rows": str(total)})
            await response.prepare(request)
            sink = io.BytesIO()
            writer = pa.ipc.new_stream(sink, reader.schema)
            stall = request.app[SETTINGS_KEY].sql_stall_timeout
            while True:
                chunk = await pool.run(_next_chunk, reader, writer, sink)
                if chunk is None:
                    break
                # A client that stops reading would hold this SQL slot (and its DuckDB cursor) for ever:
                # past the stall timeout the download is cut off, and the `finally` frees both.
                try:
                    await asyncio.wait_for(response.write(chunk), stall)
                except TimeoutError:
                    logger.warning("export: the client read nothing for %g s; download cut off", stall)
                    if request.transport is not None:
                        request.transport.abort()
                    return response
            writer.close()
            await response.write(sink.getvalue())
            await response.write_eof()
            return response
        finally:
            await pool.run(cursor.close)


def _preview(store: RequestLogStore, cutoff: Any, timeout: float) -> dict[str, Any]:
    planned = preview_prune(store.cursor(), cutoff)
    return {
        "would_delete": planned.count,
        "oldest": None if planned.oldest is None else format_timestamp(planned.oldest),
        "newest": None if planned.newest is None else format_timestamp(planned.newest),
        "cutoff": format_timestamp(planned.cutoff),
    }


def _next_chunk(reader: pa.RecordBatchReader, writer: pa.ipc.RecordBatchStreamWriter, sink: io.BytesIO) -> bytes | None:
    try:
        batch = reader.read_next_batch()
    except StopIteration:
        return None
    writer.write_batch(batch)
    chunk = sink.getvalue()
    sink.seek(0)
    sink.truncate()
    return chunk


# -- POST /api/metrics/request_logs/prune ------------------------------------------------------


async def prune_logs(request: web.Request) -> web.Response:
    """Delete rows older than `older_than` (`30d`, `12h`, `2w`) now; admins only. `reqlog prune --url` calls it."""
    account = await authorize(request, PERM_SQL)
    if not account.is_superuser:
        raise PermissionDenied()
    try:
        data = orjson.loads(await request.read() or b"{}")
    except orjson.JSONDecodeError as exc:
        raise ApiError(400, f"JSON parse error - {exc}") from None
    text = data.get("older_than") if isinstance(data, dict) else None
    if not isinstance(text, str) or not text.strip():
        raise ValidationError({"older_than": ["This field is required."]})
    try:
        age = parse_age(text)
    except ValueError as exc:
        raise ValidationError({"older_than": [str(exc)]}) from None
    dry_run = data.get("dry_run", False)
    if not isinstance(dry_run, bool):
        raise ValidationError({"dry_run": ["Must be a valid boolean."]})
    if dry_run:
        store, timeout = request.app[STORE_KEY], request.app[SETTINGS_KEY].sql_timeout
        async with _sql_slot(request.app) as pool:
            try:
                planned = await pool.run(_preview, store, cutoff_for(age), timeout)
            except SqlError as exc:
                raise ApiError(400, exc.message) from None
        return web.Response(body=orjson.dumps(planned), content_type=JSON)
    result = await retention_task.run_retention(request.app, cutoff=cutoff_for(age))
    body = {"deleted": result.deleted, "cutoff": format_timestamp(result.cutoff), "checkpointed": result.checkpointed}
    return web.Response(body=orjson.dumps(body), content_type=JSON)
