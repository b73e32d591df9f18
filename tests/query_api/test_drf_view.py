"""DRF's per-view cycle on the request-log endpoints, and Django's security headers everywhere.

The DRF matrix (`test_drf_matrix.py`) shows these answers equal a real DRF app's; this module
pins them on their own, including the OPTIONS body whose `renders` differs on purpose.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from aiohttp.test_utils import TestClient

from exporter.row import RequestLog
from query_api.errors import NotFound
from query_api.logs.negotiation import NotAcceptable, negotiate

from .harness import Tokens, auth, make_row

DETAIL = "/api/metrics/request_logs/1"
LIST = "/api/metrics/request_logs"
SECURITY = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}


@pytest.fixture
def rows() -> list[RequestLog]:
    return [make_row(0, exception_message="a\u2028b\u2029c")]


PARSES = ["application/json", "application/x-www-form-urlencoded", "multipart/form-data"]


@pytest.mark.parametrize(
    ("path", "name", "description"),
    [
        (DETAIL, "Request Log Detail", "Retrieve one request log by id."),
        (LIST + "/", "Request Log List", "Request logs, newest first, filtered, in cursor pages."),
    ],
)
async def test_options_answers_drf_metadata(
    api_client: TestClient[Any, Any], tokens: Tokens, path: str, name: str, description: str
) -> None:
    response = await api_client.options(path, headers=auth(tokens.staff_viewer))
    assert response.status == 200
    assert await response.json() == {
        "name": name,
        "description": description,
        "renders": ["application/json"],
        "parses": PARSES,
    }
    # As in DRF, OPTIONS is authenticated and permission-checked like GET.
    assert (await api_client.options(path)).status == 401
    assert (await api_client.options(path, headers=auth(tokens.staff_plain))).status == 403


@pytest.mark.parametrize(
    ("method", "path", "who", "status"),
    [
        ("GET", DETAIL, None, 401),
        ("GET", DETAIL, "staff_plain", 403),
        ("GET", "/api/metrics/request_logs/999", "admin", 404),
        ("GET", "/api/metrics/request_logs/abc/", "admin", 404),
        ("GET", DETAIL, "admin", 200),
        ("HEAD", LIST, "admin", 200),
        ("DELETE", DETAIL, "admin", 405),
        ("PURGE", LIST, "admin", 405),
        ("GET", f"{LIST}?status_code=x", "admin", 400),
    ],
)
async def test_allow_and_vary_on_every_answer(
    api_client: TestClient[Any, Any], tokens: Tokens, method: str, path: str, who: str | None, status: int
) -> None:
    headers = auth(getattr(tokens, who)) if who else {}
    response = await api_client.request(method, path, headers=headers)
    assert response.status == status
    assert response.headers["Allow"] == "GET, HEAD, OPTIONS"
    assert response.headers["Vary"] == "Accept"


async def test_json_is_finished_as_drf_renders_it(api_client: TestClient[Any, Any], tokens: Tokens) -> None:
    response = await api_client.get(DETAIL, headers=auth(tokens.admin))
    body = await response.read()
    assert b'"exception_message":"a\\u2028b\\u2029c"' in body  # escaped: JSON that is also JavaScript
    indented = await api_client.get(DETAIL, headers={**auth(tokens.admin), "Accept": "application/json; indent=2"})
    text = (await indented.read()).decode()
    assert text.startswith('{\n  "id": 1,\n  "user": null,')
    assert orjson.loads(text) == orjson.loads(body)


async def test_negotiation_comes_before_authentication(api_client: TestClient[Any, Any]) -> None:
    response = await api_client.get(DETAIL, headers={"Accept": "application/xml"})
    assert (response.status, await response.json()) == (406, {"detail": "Could not satisfy the request Accept header."})
    response = await api_client.get(f"{DETAIL}?format=xml")
    assert (response.status, await response.json()) == (404, {"detail": "Not found."})


@pytest.mark.parametrize("path", [DETAIL, "/api/openapi.json", "/api/nothing-here", "/v1/traces"])
async def test_security_headers_on_every_answer(api_client: TestClient[Any, Any], path: str) -> None:
    response = await api_client.get(path)
    for name, value in SECURITY.items():
        assert response.headers[name] == value, name


@pytest.mark.parametrize(
    "accept",
    [None, "*/*", "application/json", "Application/JSON; charset=utf-8", "application/*", "text/html, */*;q=0.1",
     "application/xml, application/json;q=0.1"],
)  # fmt: skip
def test_acceptable(accept: str | None) -> None:
    negotiate(None, accept)
    negotiate("json", accept)
    negotiate("", accept)


@pytest.mark.parametrize(
    ("accept", "indent"),
    [
        ("application/json; indent=4", 4),
        ("*/*; indent=2", 2),
        ("application/json; indent=0", None),
        ("application/json; indent=99", 8),
        ("application/json; indent=-3", None),
        ("application/json; indent=x", None),
        ('application/json; INDENT="3"', 3),
        ("*/*; indent=2, application/json", None),  # the more specific range wins
        ("application/json, application/json; indent=5", 5),
    ],
)
def test_indent(accept: str, indent: int | None) -> None:
    assert negotiate(None, accept) == indent


def test_at_most_64_ranges_are_read() -> None:
    with pytest.raises(NotAcceptable):
        negotiate(None, ",".join(["text/plain"] * 64 + ["application/json"]))
    assert negotiate(None, ",".join(["x" * 300] + ["text/plain"] * 62 + ["application/json"])) is None


@pytest.mark.parametrize("accept", ["", "*", "text/html", "application/xml", "garbage", "json/application"])
def test_not_acceptable(accept: str) -> None:
    with pytest.raises(NotAcceptable):
        negotiate(None, accept)


@pytest.mark.parametrize("format_param", ["xml", "api", "JSON", "csv"])
def test_unknown_format_is_not_found(format_param: str) -> None:
    with pytest.raises(NotFound):
        negotiate(format_param, "application/json")
