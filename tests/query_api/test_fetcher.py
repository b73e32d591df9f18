"""`RowFetcher`: concurrent retrieves share store queries, and each gets its own row."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from exporter import RequestLogStore, StorageError
from exporter.row import render_json
from query_api.logs.fetcher import RowFetcher
from query_api.readpool import ReadPool

from .harness import make_row


@pytest.fixture
def store(db_path: Path):  # type: ignore[no-untyped-def]
    s = RequestLogStore(db_path)
    s.insert_rows([make_row(i) for i in range(40)])
    yield s
    s.close()


async def test_concurrent_lookups_share_queries(store: RequestLogStore) -> None:
    pool = ReadPool(1)
    fetcher = RowFetcher(store, pool)
    try:
        ids = [3, 7, 7, 12, 40, 99, 1, 25, 3, 18, 30, 2]
        answers = await asyncio.gather(*(fetcher.get(i) for i in ids))
    finally:
        pool.close()
    for request_id, body in zip(ids, answers, strict=True):
        values = store.get_values(request_id)
        assert body == (None if values is None else render_json(values))
    assert answers[ids.index(99)] is None
    # The first lookup goes alone; everything that arrived meanwhile shares the next query.
    assert fetcher.queries == 2


async def test_a_lone_lookup_is_one_query(store: RequestLogStore) -> None:
    pool = ReadPool(4)
    fetcher = RowFetcher(store, pool)
    try:
        assert await fetcher.get(5) == render_json(store.get_values(5) or ())
        assert await fetcher.get(1000) is None
    finally:
        pool.close()
    assert fetcher.queries == 2


async def test_a_store_error_reaches_every_waiter(db_path: Path) -> None:
    store = RequestLogStore(db_path)
    store.close()
    pool = ReadPool(1)
    fetcher = RowFetcher(store, pool)
    try:
        results = await asyncio.gather(*(fetcher.get(i) for i in range(5)), return_exceptions=True)
    finally:
        pool.close()
    assert all(isinstance(r, StorageError) for r in results)


def test_get_many_values(store: RequestLogStore) -> None:
    found = store.get_many_values([4, 9, 4000])
    assert set(found) == {4, 9}
    assert found[9] == store.get_values(9)
    assert store.get_many_values([4000]) == {}
