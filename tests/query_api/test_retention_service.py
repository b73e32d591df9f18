"""Retention inside the running service: only old rows go, and the API keeps answering meanwhile."""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from exporter.row import RequestLog
from query_api import ServiceSettings, create_app
from query_api.housekeeping.retention_job import run_retention
from query_api.keys import RETENTION_KEY

from .conftest import ClientFactory
from .harness import Tokens, auth
from .sqldata import make_row

OLD, NEW = 300, 40
NOW = datetime.now(UTC).replace(tzinfo=None)


@pytest.fixture
def settings(db_path: Path) -> ServiceSettings:
    return ServiceSettings.from_env({}, db=db_path, port=0, retention_days=30)


@pytest.fixture
def rows() -> list[RequestLog]:
    old = [make_row(i, started_at=NOW - timedelta(days=40, minutes=i)) for i in range(OLD)]
    # Newer rows, from an hour inside the retention window (the cutoff moves on while the suite runs;
    # the exact boundary is tested in test_retention.py with a fixed cutoff).
    new = [make_row(OLD + i, started_at=NOW - timedelta(days=30, hours=-1) + timedelta(seconds=i)) for i in range(NEW)]
    return old + new


async def _count(client: TestClient[Any, Any], token: str) -> int:
    response = await client.post(
        "/api/metrics/sql", json={"sql": "SELECT count(*) FROM request_logs"}, headers=auth(token)
    )
    assert response.status == 200
    return int((await response.json())["rows"][0][0])


async def test_prune_keeps_newer_rows_and_the_service_answers_meanwhile(
    aiohttp_client: ClientFactory, settings: ServiceSettings, tokens: Tokens, stored: list[tuple[Any, ...]]
) -> None:
    app = create_app(settings)
    app[RETENTION_KEY].first_delay = 3600.0  # the scheduled run stays out of the way: this test drives it
    client = await aiohttp_client(app)
    old_ids = [v[0] for v in stored[:OLD]]
    new_ids = [v[0] for v in stored[OLD:]]
    headers = auth(tokens.admin)
    # Warm the recent cache's copy of an old row: pruning must drop it too.
    assert (await client.get(f"/api/metrics/request_logs/{old_ids[-1]}", headers=headers)).status == 200

    paused = threading.Event()
    resume = threading.Event()

    def hold_after_first_batch(deleted: int) -> None:
        if not paused.is_set():
            paused.set()
            resume.wait(30)

    task = asyncio.create_task(run_retention(app, on_batch=hold_after_first_batch, batch_rows=100))
    try:
        assert await asyncio.to_thread(paused.wait, 30)
        # Mid-prune (first batch committed, more to go): every endpoint still answers.
        assert (await client.get(f"/api/metrics/request_logs/{new_ids[0]}", headers=headers)).status == 200
        listing = await client.get("/api/metrics/request_logs", headers=headers)
        assert listing.status == 200
        stats = await client.get("/api/metrics/request_logs/stats", headers=headers)
        assert stats.status == 200
        assert await _count(client, tokens.admin) == OLD + NEW - 100
    finally:
        resume.set()
    result = await task
    assert result.deleted == OLD
    assert await _count(client, tokens.admin) == NEW
    for request_id in new_ids:
        assert (await client.get(f"/api/metrics/request_logs/{request_id}", headers=headers)).status == 200
    for request_id in (old_ids[0], old_ids[-1]):
        response = await client.get(f"/api/metrics/request_logs/{request_id}", headers=headers)
        assert response.status == 404, request_id


async def test_the_daily_job_runs_at_start_when_retention_is_set(
    aiohttp_client: ClientFactory, settings: ServiceSettings, tokens: Tokens, stored: list[tuple[Any, ...]]
) -> None:
    app = create_app(settings)
    state = app[RETENTION_KEY]
    state.first_delay = 0.0
    client = await aiohttp_client(app)
    await asyncio.wait_for(state.ran.wait(), 30)
    assert state.scheduled and state.runs == 1 and state.last is not None and state.last.deleted == OLD
    assert await _count(client, tokens.admin) == NEW


async def test_no_job_without_retention(
    aiohttp_client: ClientFactory, db_path: Path, tokens: Tokens, stored: list[tuple[Any, ...]]
) -> None:
    app: web.Application = create_app(ServiceSettings.from_env({}, db=db_path, port=0))
    app[RETENTION_KEY].first_delay = 0.0
    client = await aiohttp_client(app)
    assert not app[RETENTION_KEY].scheduled
    assert await _count(client, tokens.admin) == OLD + NEW
    with pytest.raises(RuntimeError):
        await run_retention(app)
