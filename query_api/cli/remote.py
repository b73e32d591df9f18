"""The commands' client of the service: `POST /api/metrics/sql`, the Arrow export stream, and prune.

Plain `urllib` (the standard library), because a command makes one request and needs no event loop.
Every failure becomes `RemoteError` with the service's own `detail` when it sent one.
"""

from __future__ import annotations

import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import orjson
import pyarrow as pa

from exporter.errors import RequestLogError

TIMEOUT = 300.0


class RemoteError(RequestLogError):
    """The service could not be reached or refused the request (the message says which and why)."""


def sql(url: str, token: str, query: str) -> dict[str, Any]:
    """The endpoint's JSON answer (`columns`, `rows`, `truncated`) to `query`."""
    body = orjson.dumps({"sql": query, "format": "json"})
    with _open(url, "/api/metrics/sql", token, data=body) as response:
        return dict(orjson.loads(response.read()))


def prune(url: str, token: str, older_than: str, *, dry_run: bool = False) -> dict[str, Any]:
    """Ask the service to delete rows older than `older_than` (admin only); its JSON answer.

    With `dry_run` the service only counts them: `would_delete`, `oldest`, `newest`, `cutoff`.
    """
    body = orjson.dumps({"older_than": older_than, "dry_run": dry_run})
    with _open(url, "/api/metrics/request_logs/prune", token, data=body) as response:
        return dict(orjson.loads(response.read()))


def export_stream(
    url: str, token: str, since: str | None, until: str | None
) -> tuple[int, Iterator[pa.RecordBatch], Callable[[], None]]:
    """(row count, record batches as they arrive, close) for the rows of `[since, until]`."""
    query = urllib.parse.urlencode({k: v for k, v in (("since", since), ("until", until)) if v})
    response = _open(url, "/api/metrics/request_logs/export" + (f"?{query}" if query else ""), token)
    try:
        total = int(response.headers.get("X-Reqlog-Rows", "0"))
        reader = pa.ipc.open_stream(response)
    except BaseException:
        response.close()
        raise
    return total, iter(reader), response.close


def _open(url: str, path: str, token: str, *, data: bytes | None = None) -> Any:
    request = urllib.request.Request(
        url.rstrip("/") + path,
        data=data,
        headers={"Authorization": f"Token {token}", "Content-Type": "application/json", "Accept": "application/json"},
        method="POST" if data is not None else "GET",
    )
    try:
        return urllib.request.urlopen(request, timeout=TIMEOUT)
    except urllib.error.HTTPError as exc:
        with exc:
            detail = _detail(exc.read())
        raise RemoteError(f"the service answered {exc.code}: {detail}") from None
    except urllib.error.URLError as exc:
        raise RemoteError(f"cannot reach {url}: {exc.reason}") from None


def _detail(body: bytes) -> str:
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        return body.decode(errors="replace")[:500]
    if isinstance(parsed, dict) and set(parsed) == {"detail"}:
        return str(parsed["detail"])
    return orjson.dumps(parsed).decode()
