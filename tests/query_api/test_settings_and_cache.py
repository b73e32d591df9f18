"""Service settings resolution and validation; the recent-rows cache's limits and pruning."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from exporter.errors import ConfigError
from exporter.row import RequestLog, render_json, row_values
from query_api import ServiceSettings, create_app
from query_api.keys import RECENT_KEY
from query_api.logs.recent import RecentCache, approximate_size

from .conftest import ClientFactory
from .harness import Tokens, auth, make_row


def test_defaults_bind_loopback() -> None:
    settings = ServiceSettings.from_env({})
    assert (settings.host, settings.port, settings.db) == ("127.0.0.1", 8000, Path("data/reqlog.duckdb"))
    assert settings.accounts_path == Path("data/accounts.sqlite3")
    assert settings.recent_cache_bytes > 0 and settings.client_max_size > 1024 * 1024


def test_argument_beats_environment_beats_default() -> None:
    env = {"REQLOG_PORT": "9000", "REQLOG_HOST": "0.0.0.0", "REQLOG_DB": "/srv/x.duckdb", "REQLOG_WARM_CACHE": "no"}
    settings = ServiceSettings.from_env(env, port=9100, host=None)
    assert (settings.port, settings.host, settings.db, settings.warm_cache) == (
        9100,
        "0.0.0.0",
        Path("/srv/x.duckdb"),
        False,
    )
    assert ServiceSettings.from_env({"REQLOG_ACCOUNTS_DB": ""}).accounts_db is None


@pytest.mark.parametrize(
    ("env", "name"),
    [
        ({"REQLOG_PORT": "eighty"}, "REQLOG_PORT"),
        ({"REQLOG_PORT": "70000"}, "port"),
        ({"REQLOG_READ_THREADS": "0"}, "read_threads"),
        ({"REQLOG_WARM_CACHE": "maybe"}, "REQLOG_WARM_CACHE"),
        ({"REQLOG_MEMORY_LIMIT": "lots"}, "memory_limit"),
        ({"REQLOG_ACCOUNT_REFRESH_INTERVAL": "5"}, "account_refresh_interval"),
    ],
)
def test_invalid_values_name_the_setting(env: dict[str, str], name: str) -> None:
    with pytest.raises(ConfigError) as caught:
        ServiceSettings.from_env(env)
    assert caught.value.name == name


def test_unknown_override_is_refused() -> None:
    with pytest.raises(ConfigError, match="unknown service setting"):
        ServiceSettings.from_env({}, colour="blue")


def _values(index: int, **overrides: Any) -> tuple[Any, ...]:
    now = datetime(2025, 11, 19, 15, 0, index)
    row = make_row(index, **overrides)
    values = row_values(RequestLog(**{**_fields(row), "id": index + 1, "created_at": now, "updated_at": now}))
    return values


def _fields(row: RequestLog) -> dict[str, Any]:
    return {name: getattr(row, name) for name in row.__dataclass_fields__}


def test_cache_holds_rendered_rows_and_evicts_oldest_by_bytes() -> None:
    one = render_json(_values(0))
    cache = RecentCache(max_bytes=3 * (len(one) + 200) + 10)
    cache.add([_values(i) for i in range(5)])
    assert len(cache) == 3 and cache.nbytes <= cache.max_bytes
    assert cache.get(1) is None and cache.get(2) is None  # the two oldest went
    assert cache.get(5) == render_json(_values(4))


def test_a_row_is_rendered_on_its_first_read_and_then_counted_at_its_rendered_size() -> None:
    values = [_values(i) for i in range(3)]
    cache = RecentCache(10_000_000)
    cache.add(values)  # the writer's path renders nothing
    assert cache.nbytes == sum(approximate_size(v) for v in values)
    body = cache.get(2)
    assert body == render_json(values[1])
    assert cache.get(2) is body  # kept rendered
    assert cache.nbytes == approximate_size(values[0]) + approximate_size(values[2]) + len(body) + 200


def test_cache_off_and_pruning() -> None:
    off = RecentCache(0)
    off.add([_values(0)])
    assert len(off) == 0 and off.get(1) is None
    cache = RecentCache(10_000_000)
    cache.add([_values(i) for i in range(6)])
    assert cache.discard([1, 2, 99]) == 2
    # Rows 3..6 started at 14:00:02 .. 14:00:05; a prune before 14:00:04 drops 3 and 4.
    assert cache.discard_before(datetime(2025, 11, 19, 14, 0, 4)) == 2
    assert [i for i in range(1, 7) if cache.get(i) is not None] == [5, 6]
    assert cache.discard_before(datetime(2025, 11, 19, 15, 0, 5), column="created_at") == 1
    assert [i for i in range(1, 7) if cache.get(i) is not None] == [6]
    with pytest.raises(ValueError):
        cache.discard_before(datetime(2025, 1, 1), column="finished_at")


@pytest.fixture
def rows() -> list[RequestLog]:
    return [make_row(i) for i in range(40)]


async def test_start_warms_the_cache_with_the_newest_rows_within_budget(
    aiohttp_client: ClientFactory, settings: ServiceSettings, tokens: Tokens, stored: list[Any]
) -> None:
    per_row = approximate_size(stored[-1])  # what a row counts until its first read renders it
    small = ServiceSettings.from_env({}, db=settings.db, recent_cache_bytes=10 * per_row + 50)
    client: TestClient[Any, Any] = await aiohttp_client(create_app(small))
    app = client.app
    assert app is not None
    cache = app[RECENT_KEY]
    cached = [i for i in range(1, 41) if i in cache]
    assert cached == list(range(31, 41))  # the newest ten
    response = await client.get("/api/metrics/request_logs/3", headers=auth(tokens.admin))  # from the store
    assert response.status == 200 and (await response.json())["id"] == 3
