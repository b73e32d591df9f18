"""`GET /healthz` and `GET /readyz` on the real service: open to all, revealing no data, 503 with reasons."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from exporter.errors import StorageError
from exporter.store import RequestLogStore
from query_api import ServiceSettings, create_app
from query_api.keys import STORE_KEY
from tests.query_api.conftest import ClientFactory
from tests.query_api.harness import Tokens

from .conftest import send, spans_body

BOUND = 400  # polls of 25 ms: a bounded wait for the writer thread to reach the blocked commit


async def test_healthz_and_readyz_answer_without_a_token(api_client: TestClient[Any, Any]) -> None:
    health = await api_client.get("/healthz")
    assert health.status == 200 and await health.json() == {"status": "ok"}
    ready = await api_client.get("/readyz")
    assert ready.status == 200 and await ready.json() == {"status": "ready"}
    assert ready.headers["Cache-Control"] == "no-store"


async def test_readyz_says_when_the_disk_is_nearly_full(
    aiohttp_client: ClientFactory, db_path: Path, tokens: Tokens
) -> None:
    settings = ServiceSettings.from_env({}, db=db_path, ready_min_free_bytes=2**62)
    client = await aiohttp_client(create_app(settings))
    ready = await client.get("/readyz")
    assert ready.status == 503
    body = await ready.json()
    assert body["status"] == "unavailable"
    assert body["reasons"] == [f"less than {2**62} bytes free in the data directory"]
    assert (await client.get("/healthz")).status == 200  # alive, just not ready


class _Gate:
    """Holds the store's insert until released: a writer stuck in one transaction (a slow disk, a checkpoint)."""

    def __init__(self, store: RequestLogStore, *, fail: bool = False) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()
        self._insert = store.insert_table
        self._fail = fail
        store.insert_table = self._blocked  # type: ignore[method-assign]

    def _blocked(self, *args: Any, **kwargs: Any) -> Any:
        self.entered.set()
        self.release.wait(timeout=60)
        if self._fail:
            raise StorageError("disk I/O error: row 42 'secret value'")
        return self._insert(*args, **kwargs)


async def _poll_ready(client: TestClient[Any, Any], status: int) -> dict[str, Any]:
    for _ in range(BOUND):
        response = await client.get("/readyz")
        body: dict[str, Any] = await response.json()
        if response.status == status:
            return body
        await asyncio.sleep(0.025)
    raise AssertionError(f"/readyz never answered {status}: {body}")


async def test_readyz_reports_a_stalled_writer_until_it_moves_again(
    aiohttp_client: ClientFactory, db_path: Path, tokens: Tokens
) -> None:
    settings = ServiceSettings.from_env({}, db=db_path, ready_stall_seconds=0.05)
    client = await aiohttp_client(create_app(settings))
    gate = _Gate(client.app[STORE_KEY])
    ingest = asyncio.create_task(send(client, tokens.ingest_only, spans_body(2)))
    body = await _poll_ready(client, 503)
    assert body["reasons"] == ["the writer is stalled: one transaction has run for over 0.05 s"]
    gate.release.set()
    assert await ingest == 200
    assert await _poll_ready(client, 200) == {"status": "ready"}


async def test_readyz_reports_a_failed_write_without_its_text(
    aiohttp_client: ClientFactory, db_path: Path, tokens: Tokens
) -> None:
    client = await aiohttp_client(create_app(ServiceSettings.from_env({}, db=db_path)))
    store = client.app[STORE_KEY]
    gate = _Gate(store, fail=True)
    gate.release.set()
    assert await send(client, tokens.ingest_only, spans_body(2)) == 503
    response = await client.get("/readyz")
    text = await response.text()
    assert response.status == 503
    assert "the last write failed (the service log says why)" in text
    assert "secret" not in text and "42" not in text  # DuckDB's message can quote stored values
    store.insert_table = gate._insert  # type: ignore[method-assign]
    assert await send(client, tokens.ingest_only, spans_body(2, first=10)) == 200
    assert (await client.get("/readyz")).status == 200


def test_the_settings_are_checked() -> None:
    from exporter.errors import ConfigError

    with pytest.raises(ConfigError, match="metrics_networks"):
        ServiceSettings.from_env({"REQLOG_METRICS_NETWORKS": "10.0.0.0/8, not-a-network"})
    with pytest.raises(ConfigError, match="ready_stall_seconds"):
        ServiceSettings.from_env({"REQLOG_READY_STALL_SECONDS": "0"})
