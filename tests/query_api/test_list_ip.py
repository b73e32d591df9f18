"""The list endpoint's `ip` filter: any spelling of an address, a network, and DRF's field errors."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from exporter.flatten import build_row
from exporter.row import RequestLog

from .harness import Tokens, auth, make_row

URL = "/api/metrics/request_logs"
# The client address as SDKs write it (Node for IPv4 clients, Java for IPv6, plain), ids 1..6.
SENT = ["::ffff:127.0.0.1", "0:0:0:0:0:0:0:1", "10.1.2.3", "10.200.0.1", "2001:DB8:0:0:0:0:0:7", "192.168.1.1"]


def stored_ip(sent: str) -> str | None:
    """The `ip` flattening stores for a span with this `client.address`."""
    row = build_row({"http.request.method": "GET", "client.address": sent}, events=(), start_ns=1, end_ns=2,
                    trace_id=None, span_id=None, service_name=None)  # fmt: skip
    assert row is not None
    return row.ip


@pytest.fixture
def rows() -> list[RequestLog]:
    return [make_row(i, ip=stored_ip(sent)) for i, sent in enumerate(SENT)]


async def _answer(client: TestClient[Any, Any], token: str, query: str) -> tuple[int, Any]:
    response = await client.get(f"{URL}?{query}", headers=auth(token))
    return response.status, await response.json()


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("ip=127.0.0.1", [1]),
        ("ip=::ffff:127.0.0.1", [1]),
        ("ip=0:0:0:0:0:ffff:7f00:1", [1]),
        ("ip=::1", [2]),
        ("ip=0:0:0:0:0:0:0:1", [2]),
        ("ip=%5B::1%5D", [2]),  # [::1], as in a URL
        ("ip=2001:db8::7", [5]),
        ("ip=10.0.0.0/8", [4, 3]),
        ("ip=10.1.2.3/8", [4, 3]),
        ("ip=10.1.0.0/16", [3]),
        ("ip=10.1.2.3/32", [3]),
        ("ip=::ffff:10.0.0.0/104", [4, 3]),
        ("ip=127.0.0.0/8", [1]),
        ("ip=::/0", [5, 2]),
        ("ip=0.0.0.0/0", [6, 4, 3, 1]),
        ("ip=2001:db8::/32", [5]),
        ("ip=192.168.0.0/16&method=GET", [6]),
        ("ip=172.16.0.0/12", []),
    ],
)
async def test_ip_filter(api_client: TestClient[Any, Any], tokens: Tokens, query: str, expected: list[int]) -> None:
    status, page = await _answer(api_client, tokens.staff_viewer, query)
    assert status == 200, page
    assert [row["id"] for row in page["results"]] == expected


async def test_rows_store_one_spelling(api_client: TestClient[Any, Any], tokens: Tokens) -> None:
    status, page = await _answer(api_client, tokens.staff_viewer, "")
    assert status == 200
    assert [row["ip"] for row in page["results"]] == ["192.168.1.1", "2001:db8::7", "10.200.0.1", "10.1.2.3", "::1",
                                                      "127.0.0.1"]  # fmt: skip


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("ip=10.0.0.0/33", "Enter a valid IPv4 or IPv6 network in CIDR notation, such as 10.0.0.0/8."),
        ("ip=nope/8", "Enter a valid IPv4 or IPv6 network in CIDR notation, such as 10.0.0.0/8."),
        ("ip=10.0.0", "Enter a valid IPv4 or IPv6 address."),
        ("ip=::ffff:1.2.3", "Enter a valid IPv4 or IPv6 address."),
    ],
)
async def test_bad_ip_is_a_field_error(
    api_client: TestClient[Any, Any], tokens: Tokens, query: str, message: str
) -> None:
    assert await _answer(api_client, tokens.staff_viewer, query) == (400, {"ip": [message]})
