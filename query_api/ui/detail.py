"""The detail page of one request: every field of the API's answer, bodies, headers, curl, trace links.

The row comes the way the API serves it (the recent cache, else the coalescing fetcher) and is read
back from that JSON, so the page shows exactly what `GET /api/metrics/request_logs/{id}` answers.
"""

from __future__ import annotations

import shlex
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import orjson
from aiohttp import web

from exporter.log_filter import LogFilter
from exporter.log_store import LogStore
from exporter.redaction import REDACTED
from query_api.auth import PERM_VIEW_LOGS
from query_api.keys import READER_KEY, STORE_KEY, UI_KEY
from query_api.logs.views import parse_id, rendered_row

from .access import viewer
from .listing import summary_view
from .render import page, render

COLLAPSE_CHARS = 2000  # pretty JSON longer than this starts folded
TRACE_NEIGHBOURS = 50  # other requests of the same trace listed at most
# Other requests of the trace are looked for this close in time: a trace_id search over every row
# scans the whole column (~130 ms at 1M rows), a window prunes by the time's zone maps (~20 ms).
# The page's "All requests of this trace" link searches without the window.
TRACE_WINDOW = timedelta(hours=1)


def pretty(value: Any) -> dict[str, Any] | None:
    """How to show a JSON field: `None` when absent; else its text and whether it is text or JSON."""
    if value is None:
        return None
    if isinstance(value, str):  # a text body, or the prefix of a truncated one
        return {"kind": "text", "text": value, "long": len(value) > COLLAPSE_CHARS}
    text = orjson.dumps(value, option=orjson.OPT_INDENT_2).decode()
    return {"kind": "json", "text": text, "long": len(text) > COLLAPSE_CHARS}


def header_rows(headers: Any) -> list[tuple[str, str, bool]]:
    """`(name, value, redacted)` for a headers object (lists of values joined as sent)."""
    if not isinstance(headers, dict):
        return []
    rows = []
    for name, value in headers.items():
        text = ", ".join(map(str, value)) if isinstance(value, list) else str(value)
        rows.append((str(name), text, text == REDACTED))
    return rows


def curl_command(log: dict[str, Any]) -> str:
    """A curl command repeating the request, from what was stored (redacted values stay redacted)."""
    stored = log.get("request_headers")
    headers: dict[str, Any] = stored if isinstance(stored, dict) else {}
    host = next((str(v) for k, v in headers.items() if k.lower() == "host"), "HOST")
    url = f"{log.get('scheme') or 'http'}://{host}{log.get('endpoint') or '/'}"
    query = log.get("query_params")
    if isinstance(query, dict) and query:
        url += "?" + urlencode(
            {k: v if isinstance(v, list | str) else orjson.dumps(v) for k, v in query.items()}, doseq=True
        )
    parts = ["curl", "-X", str(log.get("method") or "GET"), url]
    for name, value, _ in header_rows(headers):
        if name.lower() not in ("host", "content-length"):
            parts += ["-H", f"{name}: {value}"]
    body = log.get("body")
    if body is not None:
        parts += ["--data-binary", body if isinstance(body, str) else orjson.dumps(body).decode()]
    return " ".join(shlex.quote(part) for part in parts)


def _same_trace(store: LogStore, trace_id: str, started_at: str | None) -> list[tuple[Any, ...]]:
    moment = None
    if started_at:
        moment = datetime.fromisoformat(started_at.replace("Z", "+00:00")).replace(tzinfo=None)
    log_filter = LogFilter(
        trace_id=trace_id,
        started_after=None if moment is None else moment - TRACE_WINDOW,
        started_before=None if moment is None else moment + TRACE_WINDOW,
    )
    return store.list_summaries(log_filter, limit=TRACE_NEIGHBOURS + 1)


@page
async def detail_page(request: web.Request) -> web.StreamResponse:
    found = viewer(request, PERM_VIEW_LOGS)
    request_id = parse_id(request.match_info["id"])
    app = request.app
    log = orjson.loads(await rendered_row(app, request_id))
    trace_id = log.get("trace_id")
    neighbours = []
    if trace_id:
        rows = await app[READER_KEY].run(_same_trace, app[STORE_KEY], trace_id, log.get("started_at"))
        neighbours = [summary_view(row) for row in rows if row[0] != request_id][:TRACE_NEIGHBOURS]
    context = {
        "viewer": found,
        "log": log,
        "fields": [(name, value) for name, value in log.items() if name not in _SHOWN_APART],
        "bodies": [(label, pretty(log.get(name))) for name, label in _BODIES],
        "request_headers": header_rows(log.get("request_headers")),
        "response_headers": header_rows(log.get("response_headers")),
        "curl": curl_command(log),
        "trace_link": app[UI_KEY].settings.trace_link(trace_id, log.get("span_id")),
        "neighbours": neighbours,
        "redacted": REDACTED,
    }
    return render(request, "detail.html", context)


_BODIES = (("query_params", "Query parameters"), ("body", "Request body"), ("response", "Response body"))
_SHOWN_APART = frozenset(
    {"user", "query_params", "body", "response", "request_headers", "response_headers", "exception_traceback"}
)
