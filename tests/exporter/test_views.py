"""The analyst views (migration 2) on a real DuckDB file, checked against figures computed in Python."""

from __future__ import annotations

import statistics
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from exporter.analytics import VIEW_NAMES, stats_query
from exporter.schema import MIGRATIONS, SCHEMA_VERSION
from exporter.store import RequestLogStore
from tests.query_api.sqldata import make_row, service_store

N = 200


@pytest.fixture
def store(db_path: Path) -> Iterator[RequestLogStore]:
    with service_store(db_path, rows=N) as store:
        yield store


def _is_error(i: int) -> bool:
    row = make_row(i)
    return (row.status_code or 0) >= 500 or row.exception_type is not None


def test_views_exist_after_migration(store: RequestLogStore) -> None:
    assert SCHEMA_VERSION >= 2
    names = {r[0] for r in store.cursor().execute("SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall()}
    assert set(VIEW_NAMES) <= names


def test_migration_upgrades_a_version_1_file(db_path: Path) -> None:
    con = duckdb.connect(str(db_path))  # a file as version 1 left it: the table, no views
    con.execute("CREATE TABLE reqlog_migrations (version INTEGER PRIMARY KEY, applied_at TIMESTAMP)")
    for statement in MIGRATIONS[0][1]:
        con.execute(statement)
    con.execute("INSERT INTO reqlog_migrations VALUES (1, now())")
    con.execute(
        "INSERT INTO request_logs (route, method, status_code, duration) SELECT '/a', 'GET', 200, 0.1 FROM range(3)"
    )
    con.close()
    with service_store(db_path) as store:
        assert store.schema_version() == SCHEMA_VERSION
        assert store.cursor().execute("SELECT sum(requests) FROM route_latency").fetchone() == (3,)


def test_route_latency_matches_python(store: RequestLogStore) -> None:
    rows = [make_row(i) for i in range(N)]
    key = ("/users/{id}", "GET")
    mine = [r for r in rows if (r.route, r.method) == key]
    durations = sorted(r.duration for r in mine if r.duration is not None)
    got = (
        store.cursor()
        .execute("SELECT requests, p50, p95, errors, error_rate FROM route_latency WHERE route = ? AND method = ?", key)
        .fetchone()
    )
    assert got is not None
    requests, p50, p95, errors, error_rate = got
    assert requests == len(mine)
    assert p50 == pytest.approx(statistics.median(durations))
    assert p95 == pytest.approx(statistics.quantiles(durations, n=100, method="inclusive")[94])
    expected_errors = sum(1 for r in mine if (r.status_code or 0) >= 500 or r.exception_type)
    assert errors == expected_errors
    assert error_rate == pytest.approx(expected_errors / len(mine))


def test_route_falls_back_to_the_path(db_path: Path) -> None:
    with service_store(db_path) as store:
        store.insert_rows([make_row(1, route=None, endpoint="/legacy/path")])
        assert store.cursor().execute("SELECT route, requests FROM route_latency").fetchall() == [("/legacy/path", 1)]


def test_hourly_traffic_counts_every_request(store: RequestLogStore) -> None:
    total, errors, bots = (
        store.cursor().execute("SELECT sum(requests), sum(errors), sum(bot_requests) FROM hourly_traffic").fetchone()
    )
    assert total == N
    assert errors == sum(_is_error(i) for i in range(N))
    assert bots == sum(make_row(i).is_bot for i in range(N))
    first = store.cursor().execute("SELECT hour, requests FROM hourly_traffic ORDER BY hour LIMIT 1").fetchone()
    # Rows start every 7 minutes from 14:00:00.123456: 9 of them (0..56 min) fall in the first hour.
    assert first is not None and first[0].hour == 14 and first[1] == 9


def test_slowest_requests_are_ordered(store: RequestLogStore) -> None:
    got = store.cursor().execute("SELECT id, duration FROM slowest_requests LIMIT 5").fetchall()
    assert [d for _, d in got] == sorted((d for _, d in got), reverse=True)
    assert got[0][1] == max(make_row(i).duration or 0 for i in range(N))


def test_top_exceptions(store: RequestLogStore) -> None:
    got = store.cursor().execute("SELECT exception_type, occurrences, last_id, last_message FROM top_exceptions")
    (exception_type, occurrences, last_id, last_message), *rest = got.fetchall()
    assert rest == []
    assert exception_type == "builtins.ValueError"
    last = max(i for i in range(N) if i % 7 == 0)
    assert occurrences == sum(1 for i in range(N) if i % 7 == 0)
    assert (last_id, last_message) == (last + 1, f"bad value {last}")


def test_bot_share_per_day(store: RequestLogStore) -> None:
    got = store.cursor().execute("SELECT sum(requests), sum(bot_requests), min(bot_share) FROM bot_share").fetchone()
    assert got is not None
    assert got[0] == N
    assert got[1] == sum(1 for i in range(N) if i % 10 == 0)
    assert 0 < got[2] < 1


def test_stats_query_per_status(store: RequestLogStore) -> None:
    sql, params = stats_query("status_code", limit=10)
    got = {row[0]: row for row in store.cursor().execute(sql, params).fetchall()}
    assert got[500][1] == sum(1 for i in range(N) if i % 7 == 0)
    assert got[500][6] == 1.0  # every 500 is an error
    assert got[200][6] == 0.0
    with pytest.raises(KeyError):
        stats_query("request_headers")
