"""Every endpoint's errors have one JSON shape (compare datasette's `test_error_shape.py`).

The shape is Django REST Framework's: `{"detail": "<message>"}`, or for invalid arguments DRF's
field errors `{"<field>": ["<message>", ...]}`. The OTLP receiver answers its own protocol's errors
with a `google.rpc.Status` (`{"code": <int>, "message": "<text>"}`), as the OTLP specification asks,
and its 401/403 like every other endpoint. Every route of `app.ROUTES` must have its cases here: a
new endpoint without them fails `test_every_route_has_error_cases`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from query_api.app import ROUTES

from .harness import Tokens, auth

LIST = "/api/metrics/request_logs"
DETAIL = "/api/metrics/request_logs/{id}"
STATS = "/api/metrics/request_logs/stats"
EXPORT = "/api/metrics/request_logs/export"
PRUNE = "/api/metrics/request_logs/prune"
SQL = "/api/metrics/sql"
TRACES = "/v1/traces"
SERVICE = "/api/metrics/service"
OPENAPI = "/api/openapi.json"
HEALTH, READY, METRICS = "/healthz", "/readyz", "/metrics"


@dataclass(frozen=True)
class Case:
    """`method url` as `caller` (a `Tokens` field, or None for no token) answers `status` in `shape`."""

    method: str
    url: str
    caller: str | None
    status: int
    shape: str  # "detail", "fields" or "rpc"
    kwargs: dict[str, Any] = field(default_factory=dict)


def _json(body: Any) -> dict[str, Any]:
    return {"json": body}


CASES: dict[tuple[str, str], list[Case]] = {
    ("*", LIST): [
        Case("GET", LIST, None, 401, "detail"),
        Case("GET", LIST, "staff_plain", 403, "detail"),
        Case("GET", LIST + "?status_code=abc", "admin", 400, "fields"),
        Case("GET", LIST + "?cursor=not-a-cursor", "admin", 404, "detail"),
        Case("POST", LIST, "admin", 405, "detail"),
        Case("GET", LIST, "admin", 406, "detail", {"headers": {"Accept": "text/html"}}),
    ],
    ("*", DETAIL): [
        Case("GET", "/api/metrics/request_logs/1", None, 401, "detail"),
        Case("GET", "/api/metrics/request_logs/1", "staff_plain", 403, "detail"),
        Case("GET", "/api/metrics/request_logs/999", "admin", 404, "detail"),
        Case("GET", "/api/metrics/request_logs/x", "admin", 404, "detail"),
        Case("DELETE", "/api/metrics/request_logs/1", "admin", 405, "detail"),
    ],
    ("GET", OPENAPI): [Case("POST", OPENAPI, None, 405, "detail")],
    ("POST", TRACES): [
        Case("POST", TRACES, None, 401, "detail"),
        Case("POST", TRACES, "staff_viewer", 403, "detail"),
        Case("POST", TRACES, "admin", 415, "rpc", {"data": b"{}", "headers": {"Content-Type": "text/plain"}}),
        Case("POST", TRACES, "admin", 400, "rpc", {"data": b"{", "headers": {"Content-Type": "application/json"}}),
        Case("GET", TRACES, "admin", 405, "detail"),
    ],
    ("POST", SQL): [
        Case("POST", SQL, None, 401, "detail", _json({"sql": "SELECT 1"})),
        Case("POST", SQL, "staff_viewer", 403, "detail", _json({"sql": "SELECT 1"})),
        Case("POST", SQL, "admin", 400, "detail", _json({"sql": "DELETE FROM request_logs"})),
        Case("POST", SQL, "admin", 400, "fields", _json({})),
        Case("POST", SQL, "admin", 400, "detail", {"data": b"{", "headers": {"Content-Type": "application/json"}}),
    ],
    ("GET", STATS): [
        Case("GET", STATS, None, 401, "detail"),
        Case("GET", STATS, "staff_plain", 403, "detail"),
        Case("GET", STATS + "?group_by=request_headers", "admin", 400, "fields"),
    ],
    ("GET", EXPORT): [
        Case("GET", EXPORT, None, 401, "detail"),
        Case("GET", EXPORT, "staff_viewer", 403, "detail"),
        Case("GET", EXPORT + "?since=yesterday", "admin", 400, "fields"),
    ],
    ("POST", PRUNE): [
        Case("POST", PRUNE, None, 401, "detail", _json({"older_than": "30d"})),
        Case("POST", PRUNE, "ingest_only", 403, "detail", _json({"older_than": "30d"})),
        Case("POST", PRUNE, "admin", 400, "fields", _json({})),
        Case("POST", PRUNE, "admin", 400, "fields", _json({"older_than": "6m"})),
    ],
    ("GET", SERVICE): [
        Case("GET", SERVICE, None, 401, "detail"),
        Case("GET", SERVICE, "staff_plain", 403, "detail"),
    ],
    # ops/: the health checks answer without a token (their 503 is a status document, not an error).
    ("GET", HEALTH): [Case("POST", HEALTH, None, 405, "detail")],
    ("GET", READY): [Case("POST", READY, None, 405, "detail")],
    ("GET", METRICS): [
        Case("GET", METRICS, None, 401, "detail"),
        Case("GET", METRICS, "viewer_not_staff", 403, "detail"),
        Case("POST", METRICS, "admin", 405, "detail"),
    ],
}


def test_every_route_has_error_cases() -> None:
    # The viewer's HTML pages (`/`, `/ui/...`) answer errors as pages, not JSON: tests/ui covers them.
    api = {(route.method, route.path) for route in ROUTES if route.path != "/" and not route.path.startswith("/ui")}
    assert set(CASES) == api


def _check_shape(shape: str, body: Any) -> None:
    assert isinstance(body, dict) and body, body
    if shape == "detail":
        assert list(body) == ["detail"] and isinstance(body["detail"], str) and body["detail"], body
    elif shape == "fields":
        assert all(isinstance(k, str) and isinstance(v, list) and v for k, v in body.items()), body
        assert all(isinstance(message, str) for messages in body.values() for message in messages), body
    else:
        assert isinstance(body.get("code"), int) and body["code"] > 0, body
        assert isinstance(body.get("message"), str) and body["message"], body


@pytest.mark.parametrize(
    "case",
    [case for cases in CASES.values() for case in cases],
    ids=lambda case: f"{case.method} {case.url} {case.caller} {case.status}",
)
async def test_error_shape(api_client: TestClient[Any, Any], tokens: Tokens, case: Case) -> None:
    kwargs = dict(case.kwargs)
    headers = dict(kwargs.pop("headers", {}))
    if case.caller is not None:
        headers.update(auth(getattr(tokens, case.caller)))
    response = await api_client.request(case.method, case.url, headers=headers, **kwargs)
    assert response.status == case.status, await response.text()
    assert response.content_type == "application/json"
    _check_shape(case.shape, await response.json())
    if case.status == 401:
        assert response.headers["WWW-Authenticate"] == "Token"


@pytest.mark.parametrize(("method", "url"), [("GET", "/api/nothing/here"), ("GET", "/api/metrics/request_logs/1/x")])
async def test_unknown_paths_answer_in_the_same_shape(api_client: TestClient[Any, Any], method: str, url: str) -> None:
    response = await api_client.request(method, url)
    assert response.status == 404 and response.content_type == "application/json"
    assert await response.json() == {"detail": "Not found."}
