"""Fixtures for the query API: settings on a temporary data directory, accounts, a live client."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from exporter.row import RequestLog
from query_api import ServiceSettings, create_app

from .harness import Tokens, make_accounts, seed

ClientFactory = Callable[..., Awaitable[TestClient[Any, Any]]]


@pytest.fixture
def settings(db_path: Path) -> ServiceSettings:
    """Service settings on `db_path` (accounts beside it), with a fast account refresh."""
    return ServiceSettings.from_env({}, db=db_path, port=0)


@pytest.fixture
def tokens(settings: ServiceSettings) -> Tokens:
    return make_accounts(settings.accounts_path)


@pytest.fixture
def rows() -> list[RequestLog]:
    """The rows stored before the service starts; a test module overrides this fixture to seed its own."""
    return []


@pytest.fixture
def stored(settings: ServiceSettings, rows: list[RequestLog]) -> list[tuple[Any, ...]]:
    """`rows` written to the database file, as stored values (ids assigned)."""
    return seed(settings.db, rows) if rows else []


@pytest.fixture
async def api_client(
    aiohttp_client: ClientFactory, settings: ServiceSettings, tokens: Tokens, stored: list[tuple[Any, ...]]
) -> TestClient[Any, Any]:
    """A client of the real service on a loopback port, over the seeded file and accounts."""
    return await aiohttp_client(create_app(settings))
