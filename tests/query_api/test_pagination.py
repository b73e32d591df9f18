"""DRF CursorPagination's shape across pages: next and previous links, page sizes, bad cursors."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from yarl import URL

from exporter.row import RequestLog

from .harness import Tokens, auth, make_row

LIST = "/api/metrics/request_logs"
TOTAL = 501  # one more than the largest page


@pytest.fixture
def rows() -> list[RequestLog]:
    return [make_row(i, status_code=500 if i % 3 == 0 else 200) for i in range(TOTAL)]


async def _page(client: TestClient[Any, Any], token: str, url: str) -> dict[str, Any]:
    response = await client.get(url, headers=auth(token))
    assert response.status == 200, await response.text()
    return await response.json()


def _local(link: str) -> str:
    # Links are absolute, as DRF builds them from the request's host; follow them on the test server.
    return URL(link).path_qs


async def test_walk_forward_then_back(api_client: TestClient[Any, Any], tokens: Tokens) -> None:
    pages: list[list[int]] = []
    url: str | None = f"{LIST}?page_size=100&status=2xx"
    first = await _page(api_client, tokens.admin, url)
    assert first["previous"] is None
    page = first
    while True:
        pages.append([r["id"] for r in page["results"]])
        if page["next"] is None:
            break
        assert "status=2xx" in page["next"] and "page_size=100" in page["next"]
        page = await _page(api_client, tokens.admin, _local(page["next"]))
        assert page["previous"] is not None
    walked = [i for ids in pages for i in ids]
    expected = [i + 1 for i in reversed(range(TOTAL)) if i % 3 != 0]
    assert walked == expected  # newest first, no gap, no repeat
    assert [len(p) for p in pages] == [100, 100, 100, 34]
    # Back from the last page with `previous`: the same pages in reverse order.
    back = [pages[-1]]
    while page["previous"] is not None:
        page = await _page(api_client, tokens.admin, _local(page["previous"]))
        back.append([r["id"] for r in page["results"]])
    assert back == list(reversed(pages))
    assert page["previous"] is None or page["results"] == []


@pytest.mark.parametrize(
    ("query", "size"), [("", 50), ("page_size=1000", 500), ("page_size=0", 50), ("page_size=x", 50)]
)
async def test_page_size(api_client: TestClient[Any, Any], tokens: Tokens, query: str, size: int) -> None:
    page = await _page(api_client, tokens.admin, f"{LIST}?{query}")
    assert len(page["results"]) == size
    assert page["results"][0]["id"] == TOTAL
    assert page["next"] is not None and page["previous"] is None


async def test_last_page_has_no_next(api_client: TestClient[Any, Any], tokens: Tokens) -> None:
    page = await _page(api_client, tokens.admin, f"{LIST}?page_size=500")
    last = await _page(api_client, tokens.admin, _local(page["next"]))
    assert [r["id"] for r in last["results"]] == [1]
    assert last["next"] is None and last["previous"] is not None


@pytest.mark.parametrize("cursor", ["garbage", "cD1hYmM=", "cj0x", "%FF"])
async def test_invalid_cursor_is_404(api_client: TestClient[Any, Any], tokens: Tokens, cursor: str) -> None:
    response = await api_client.get(f"{LIST}?cursor={cursor}", headers=auth(tokens.admin))
    assert (response.status, await response.json()) == (404, {"detail": "Invalid cursor"})
