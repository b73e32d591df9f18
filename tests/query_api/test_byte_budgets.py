"""Reads bounded by bytes, not counts: list pages and the start-up cache warm-up.

Rows written before `exporter.limits` (or by hand) can be megabytes each. A `page_size=5` page of
5 MB rows answered 500, and the warm-up read up to 2,000 rows in one query (700 rows of 2 MB kept
`reqlog serve` from starting).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from yarl import URL

from exporter.store import RequestLogStore
from query_api import ServiceSettings, create_app
from query_api.logs.recent import RecentCache, warm

from .harness import Tokens, auth, make_accounts, make_row

MIB = 1024 * 1024


def _seed_big(db: Path, count: int, size: int) -> None:
    store = RequestLogStore(db)
    try:
        for k in range(count):  # one at a time: the test never holds them all
            store.insert_rows([make_row(k, body='"' + f"{k:04d}" * (size // 4) + '"')], returning=False)
    finally:
        store.close()


async def test_a_list_page_stops_at_its_byte_budget_and_links_to_the_rest(db_path: Path, aiohttp_client: Any) -> None:
    _seed_big(db_path, 5, 5 * MIB)
    settings = ServiceSettings.from_env({}, db=db_path, port=0, list_page_bytes=12 * MIB, warm_cache=False)
    tokens: Tokens = make_accounts(settings.accounts_path)
    client: TestClient[Any, Any] = await aiohttp_client(create_app(settings))
    seen: list[int] = []
    url: str | None = "/api/metrics/request_logs?page_size=5"
    pages = 0
    while url is not None:
        response = await client.get(url, headers=auth(tokens.admin))
        assert response.status == 200
        page = await response.json()
        assert set(page) == {"next", "previous", "results"}  # DRF's shape, whatever the cut
        assert 1 <= len(page["results"]) <= 2  # two 5 MB rows fit in 12 MiB, three do not
        seen += [row["id"] for row in page["results"]]
        url = None if page["next"] is None else str(URL(page["next"]).relative())
        pages += 1
    assert seen == [5, 4, 3, 2, 1] and pages == 3


async def test_a_page_under_its_budget_is_not_cut(api_client: TestClient[Any, Any], tokens: Tokens) -> None:
    page = await (await api_client.get("/api/metrics/request_logs?page_size=2", headers=auth(tokens.admin))).json()
    assert [row["id"] for row in page["results"]] == [3, 2] and page["next"] is not None


@pytest.fixture
def rows() -> list[Any]:
    return [make_row(k) for k in range(3)]


def test_the_warm_up_reads_in_steps_of_bytes_and_keeps_the_newest(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _seed_big(db_path, 30, 1 * MIB)
    store = RequestLogStore(db_path)
    try:
        steps: list[int] = []
        real = store.list_page

        def recording(*args: Any, **kwargs: Any) -> Any:
            rows, cut = real(*args, **kwargs)
            steps.append(sum(len(v) for row in rows for v in row if isinstance(v, str)))
            return rows, cut

        monkeypatch.setattr(store, "list_page", recording)
        cache = RecentCache(8 * MIB)
        warm(store, cache, step_bytes=3 * MIB)
    finally:
        store.close()
    assert max(steps) <= 3 * MIB  # never a read of every row at once (the old code read all 30)
    assert 0 < cache.nbytes <= 8 * MIB
    assert cache.get(30) is not None and cache.get(1) is None  # the newest rows, within the budget


def test_the_warm_up_stops_at_its_time_limit_and_says_so(db_path: Path) -> None:
    _seed_big(db_path, 12, 1 * MIB)
    store = RequestLogStore(db_path)
    try:
        limited, unlimited = RecentCache(64 * MIB), RecentCache(64 * MIB)
        # A limit already past when the first step ends: the warm-up stops there, whatever the clock.
        stopped = warm(store, limited, step_bytes=3 * MIB, max_seconds=1e-9)
        finished = warm(store, unlimited, step_bytes=3 * MIB, max_seconds=0)
    finally:
        store.close()
    assert stopped is not None and "time limit" in stopped and finished is None
    assert len(unlimited) == 12
    assert 1 <= len(limited) < 12  # one step of at most 3 MiB: two of the 1 MiB rows
    assert limited.get(12) is not None and limited.get(1) is None  # still the newest rows
