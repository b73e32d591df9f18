"""`POST /api/metrics/request_logs/prune` (admins only): delete rows older than an age now, or preview it.

`reqlog prune --url` calls it. The delete is the retention job's (`retention_job.run_retention`),
so it also drops the rows from the recent-rows cache; a dry run counts on an analysis thread.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
from aiohttp import web

from exporter.errors import SqlError
from exporter.log_store import LogStore
from exporter.row import format_timestamp
from query_api.auth import PERM_SQL, authorize
from query_api.errors import JSON, ApiError, PermissionDenied, ValidationError
from query_api.housekeeping.retention import cutoff_for, parse_age
from query_api.housekeeping.retention_job import run_retention
from query_api.keys import STORE_KEY
from query_api.sql.endpoint import ANALYSIS_ERRORS
from query_api.sql.slots import sql_slot

PATH = "/api/metrics/request_logs/prune"


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
        store = request.app[STORE_KEY]
        async with sql_slot(request.app) as pool:
            try:
                planned = await pool.run(_preview, store, cutoff_for(age))
            except SqlError as exc:
                raise ApiError(400, exc.message) from None
        return web.Response(body=orjson.dumps(planned), content_type=JSON)
    result = await run_retention(request.app, cutoff=cutoff_for(age))
    body = {"deleted": result.deleted, "cutoff": format_timestamp(result.cutoff), "checkpointed": result.checkpointed}
    return web.Response(body=orjson.dumps(body), content_type=JSON)


def _preview(store: LogStore, cutoff: datetime) -> dict[str, Any]:
    planned = store.preview_prune(cutoff)
    return {
        "would_delete": planned.count,
        "oldest": None if planned.oldest is None else format_timestamp(planned.oldest),
        "newest": None if planned.newest is None else format_timestamp(planned.newest),
        "cutoff": format_timestamp(planned.cutoff),
    }


OPERATIONS = {
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
            **ANALYSIS_ERRORS,
        },
    }
}
