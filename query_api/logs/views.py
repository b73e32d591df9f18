"""The request-log endpoints: retrieve by id and the filtered, cursor-paginated list.

Both follow DRF's order: authenticate, check permission, then look up (so a caller without
permission learns nothing about which ids exist). Rows are served as the API's JSON bytes,
rendered from stored values with the JSON columns spliced in as text (`exporter.row.render_json`),
never parsed and re-serialised.
"""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from exporter.log_filter import LogFilter
from exporter.log_store import LogStore
from exporter.row import render_json
from query_api.auth import PERM_VIEW_LOGS, authorize
from query_api.errors import JSON, NotFound
from query_api.keys import FETCHER_KEY, READER_KEY, RECENT_KEY, SETTINGS_KEY, STORE_KEY
from query_api.logs.drf_view import read_only_view
from query_api.logs.filters import parse_filters
from query_api.logs.pagination import decode_cursor, page_links, page_size
from query_api.logs.schema import COMMON_ERRORS, FORMAT, list_parameters, options_operation

LIST_PATH = "/api/metrics/request_logs"
DETAIL_PATH = "/api/metrics/request_logs/{id}"
NO_MATCH = "No RequestLog matches the given query."
_MIN_ID, _MAX_ID = -(2**63), 2**63 - 1


def parse_id(raw: str) -> int:
    """The path's id as Django reads a `pk` for an integer column, or DRF's 404.

    Django converts with `int()`, so `+1`, ` 1` and `1_0` are ids too, and anything `int()`
    refuses is DRF's bare "Not found.". An integer outside 64 bits is a query that matches
    nothing (Django 5 answers such a lookup with no rows): "No RequestLog matches the given query.".
    """
    try:
        value = int(raw)
    except ValueError:  # also past Python's 4,300-digit limit, as in Django
        raise NotFound() from None
    if not _MIN_ID <= value <= _MAX_ID:
        raise NotFound(NO_MATCH)
    return value


async def retrieve(request: web.Request) -> web.Response:
    """`GET /api/metrics/request_logs/{id}`: the row, from the recent cache or the store."""
    await authorize(request, PERM_VIEW_LOGS)
    body = await rendered_row(request.app, parse_id(request.match_info["id"]))
    return web.Response(body=body, content_type=JSON)


async def rendered_row(app: web.Application, request_id: int) -> bytes:
    """The row's API JSON, from the recent cache or the store; DRF's 404 when no row has that id."""
    body = app[RECENT_KEY].get(request_id)
    if body is None:
        body = await app[FETCHER_KEY].get(request_id)
        if body is None:
            raise NotFound(NO_MATCH)
    return body


def _page(
    store: LogStore, log_filter: LogFilter, before: int | None, after: int | None, size: int, max_bytes: int
) -> tuple[list[int], list[orjson.Fragment], bool]:
    # A page stops at `list_page_bytes` of rows: fewer rows, and a `next` link to the rest.
    values, cut = store.list_page(log_filter, before_id=before, after_id=after, limit=size + 1, max_bytes=max_bytes)
    has_more = len(values) > size or cut
    values = values[:size]
    if after is not None:
        values.reverse()  # fetched oldest first, served newest first
    return [v[0] for v in values], [orjson.Fragment(render_json(v)) for v in values], has_more


async def list_logs(request: web.Request) -> web.Response:
    """`GET /api/metrics/request_logs`: newest first, filtered, in DRF's cursor-page shape."""
    await authorize(request, PERM_VIEW_LOGS)
    query = dict(request.query.items())  # a repeated parameter: the last value wins, as in Django
    log_filter = parse_filters(query)
    cursor = decode_cursor(query.get("cursor"))
    size = page_size(query)
    before = after = None
    if cursor is not None:
        before, after = (None, cursor.position) if cursor.reverse else (cursor.position, None)
    app = request.app
    budget = app[SETTINGS_KEY].list_page_bytes
    ids, results, has_more = await app[READER_KEY].run(_page, app[STORE_KEY], log_filter, before, after, size, budget)
    next_url, previous_url = page_links(request.url, cursor, ids, has_more=has_more)
    page: dict[str, Any] = {"next": next_url, "previous": previous_url, "results": results}
    return web.Response(body=orjson.dumps(page), content_type=JSON)


# The endpoints as DRF serves them: every method (405 for writes), OPTIONS with DRF's metadata.
list_view = read_only_view(
    list_logs,
    permission=PERM_VIEW_LOGS,
    name="Request Log List",
    description="Request logs, newest first, filtered, in cursor pages.",
)
detail_view = read_only_view(
    retrieve, permission=PERM_VIEW_LOGS, name="Request Log Detail", description="Retrieve one request log by id."
)

LIST_OPERATIONS = {
    "get": {
        "operationId": "listRequestLogs",
        "summary": "List request logs, newest first, filtered, cursor-paginated.",
        "parameters": list_parameters(),
        "responses": {
            "200": {
                "description": "A page of request logs, newest first.",
                "content": {JSON: {"schema": {"$ref": "#/components/schemas/RequestLogPage"}}},
            },
            "400": {"$ref": "#/components/responses/ValidationError"},
            **COMMON_ERRORS,
            "404": {"$ref": "#/components/responses/NotFound"},
        },
    },
    "options": options_operation("describeRequestLogs", "DRF's metadata for the list view."),
}
DETAIL_OPERATIONS = {
    "get": {
        "operationId": "retrieveRequestLog",
        "summary": "Retrieve one request log by id (staff with permission 3601, or admin).",
        "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}, FORMAT],
        "responses": {
            "200": {
                "description": "The request log.",
                "content": {JSON: {"schema": {"$ref": "#/components/schemas/RequestLog"}}},
            },
            **COMMON_ERRORS,
            "404": {"$ref": "#/components/responses/NotFound"},
        },
    },
    "options": options_operation("describeRequestLog", "DRF's metadata for the retrieve view."),
}
