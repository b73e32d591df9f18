"""The list page: the API's filters and cursor pages, drawn as a table; and its live-mode rows.

The filter form is a GET form, so the filter state is the page's URL (shareable, and the back button
works). Its fields are the list endpoint's own parameters, read by the endpoint's own parser
(`filters.parse_filters`), plus `range`: a preset (`1h`, `24h`, ...) that becomes `started_after` at
request time, or `custom` for the two datetime fields. Rows come from the store's `list_page`, the
query the API uses, newest first.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web
from multidict import MultiDict

from exporter.log_filter import LogFilter
from exporter.log_store import LogStore
from exporter.store_queries import SUMMARY_COLUMNS
from query_api.auth import PERM_VIEW_LOGS
from query_api.keys import READER_KEY, STORE_KEY
from query_api.logs.filters import parse_filters
from query_api.logs.pagination import decode_cursor, page_links, page_size

from .access import viewer
from .render import page, render

RANGES: dict[str, timedelta] = {
    "15m": timedelta(minutes=15),
    "1h": timedelta(hours=1),
    "6h": timedelta(hours=6),
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
}
LIVE_ROWS = 100  # the most new rows one live-mode poll brings


def resolve_range(query: Mapping[str, str], now: datetime | None = None) -> dict[str, str]:
    """The query with `range` turned into `started_after` (a preset) or left to the custom fields.

    Without a preset, or with `custom`, the `started_after` / `started_before` fields are used as
    given; with a preset they are ignored (the form keeps them for when `custom` is picked again).
    """
    values = {name: value for name, value in query.items() if name != "range"}
    preset = query.get("range", "")
    if preset in RANGES:
        moment = (now or datetime.now(UTC)).replace(tzinfo=None) - RANGES[preset]
        values["started_after"] = moment.isoformat(timespec="seconds")
        values.pop("started_before", None)
    return values


def summary_view(values: tuple[Any, ...]) -> dict[str, Any]:
    """A row of `list_summaries` as a name -> value mapping for the templates."""
    return dict(zip(SUMMARY_COLUMNS, values, strict=True))


def _page(
    store: LogStore, log_filter: LogFilter, before: int | None, after: int | None, size: int
) -> tuple[list[tuple[Any, ...]], bool]:
    # The list shows the narrow columns only: no byte budget needed, and no wide column is read.
    values = store.list_summaries(log_filter, before_id=before, after_id=after, limit=size + 1)
    has_more = len(values) > size
    values = values[:size]
    if after is not None:
        values.reverse()  # fetched oldest first, shown newest first
    return values, has_more


@page
async def list_page(request: web.Request) -> web.StreamResponse:
    found = viewer(request, PERM_VIEW_LOGS)
    query: dict[str, str] = dict(request.query.items())
    log_filter = parse_filters(resolve_range(query))
    cursor = decode_cursor(query.get("cursor"))
    size = page_size(query)
    before = after = None
    if cursor is not None:
        before, after = (None, cursor.position) if cursor.reverse else (cursor.position, None)
    app = request.app
    values, has_more = await app[READER_KEY].run(_page, app[STORE_KEY], log_filter, before, after, size)
    ids = [row[0] for row in values]
    next_url, previous_url = page_links(request.rel_url, cursor, ids, has_more=has_more)
    context = {
        "viewer": found,
        "rows": [summary_view(row) for row in values],
        "form": query,
        "ranges": list(RANGES),
        "next_url": next_url,
        "previous_url": previous_url,
        "live_allowed": cursor is None,
        "filtered": any(value for name, value in query.items() if name not in ("cursor", "page_size")),
    }
    return render(request, "list.html", context)


@page
async def live_rows(request: web.Request) -> web.StreamResponse:
    """Rows newer than `after_id` matching the list's filters, as table rows (the live mode polls this)."""
    found = viewer(request, PERM_VIEW_LOGS)
    query = MultiDict(request.query)
    try:
        after_id = int(query.pop("after_id", "0"))
    except ValueError:
        after_id = 0
    log_filter = parse_filters(resolve_range(dict(query.items())))
    app = request.app
    values, _ = await app[READER_KEY].run(_page, app[STORE_KEY], log_filter, None, after_id, LIVE_ROWS)
    return render(request, "rows.html", {"viewer": found, "rows": [summary_view(row) for row in values]})
