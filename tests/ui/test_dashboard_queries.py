"""The dashboard's queries against plain SQL over the same rows of a real DuckDB file.

Counts must be exact; the time series' percentiles (a log-scale histogram, `latency_histogram`)
within `ERROR` of DuckDB's exact nearest-rank `quantile_disc`; the top routes exactly the stats
endpoint's. Nothing is kept beside the rows, so prune and reopening the file must change nothing
but the rows themselves: checked after each.
"""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest

from exporter.analytics import ERROR_CONDITION
from exporter.latency_histogram import BUCKET_SQL, ERROR, FLOOR_SECONDS, QUANTILES, bucket_of, value_of
from exporter.row import RequestLog
from exporter.store import RequestLogStore
from tests.query_api.sqldata import make_row

START = datetime(2025, 11, 1)
END = START + timedelta(days=3)
STEP = 3 * 3600


def _rows(count: int) -> list[RequestLog]:
    """Lognormal latencies (with zeros, sub-microsecond values, gaps and a few minutes-long ones)."""
    rng = random.Random(16)
    rows = []
    for i in range(count):
        duration: float | None = rng.lognormvariate(-3.5, 1.4)
        if i % 97 == 0:
            duration = None
        elif i % 89 == 0:
            duration = rng.choice([0.0, 3e-7, 250.0])
        started = START + timedelta(seconds=rng.uniform(0, (END - START).total_seconds()))
        changes: dict[str, Any] = {"started_at": started, "duration": duration, "is_bot": i % 9 == 0}
        if i % 41 == 0:
            changes.update(route=None, endpoint=f"/raw/{i % 3}")  # grouped by its path
        rows.append(make_row(i, **changes))
    return rows


@pytest.fixture
def store(tmp_path: Path) -> RequestLogStore:
    opened = RequestLogStore(tmp_path / "logs.duckdb")
    opened.insert_rows(_rows(6000), returning=False)
    return opened


def _series(store: RequestLogStore, route: str | None = None) -> list[tuple[Any, ...]]:
    return store.dashboard("time_series", bucket_seconds=STEP, started_after=START, started_before=END, route=route)


def _assert_series_matches_sql(store: RequestLogStore, route: str | None = None) -> int:
    """The series against GROUP BY over the raw rows; returns the requests it counted."""
    where = "started_at >= ? AND started_at < ?" + ("" if route is None else " AND coalesce(route, endpoint) = ?")
    params: list[object] = [START, END] + ([] if route is None else [route])
    expected = (
        store.cursor()
        .execute(
            f"""SELECT CAST(floor(epoch(started_at) / {STEP}) AS BIGINT) * {STEP}, count(*),
            count(*) FILTER (WHERE {ERROR_CONDITION}), count(*) FILTER (WHERE is_bot),
            quantile_disc(duration, [{", ".join(map(str, QUANTILES))}])
        FROM request_logs WHERE {where} GROUP BY 1 ORDER BY 1""",
            params,
        )
        .fetchall()
    )
    got = _series(store, route)
    assert [row[:4] for row in got] == [row[:4] for row in expected]  # buckets, requests, errors, bots: exact
    for (*_, latency), (*_, exact) in zip(got, expected, strict=True):
        for estimate, truth in zip(latency, exact, strict=True):
            if truth < FLOOR_SECONDS:
                assert estimate == 0.0
            else:
                assert abs(estimate - truth) <= ERROR * truth * (1 + 1e-9), (estimate, truth)
    return sum(int(row[1]) for row in got)


def _assert_routes_match_stats(store: RequestLogStore) -> None:
    for limit in (1, 3, 100):
        routes = store.dashboard("routes", started_after=START, started_before=END, limit=limit)
        assert routes == store.stats("route", started_after=START, started_before=END, limit=limit)


def test_bucket_values_are_within_the_stated_error() -> None:
    con = duckdb.connect()
    durations = [10 ** (k / 97) for k in range(-580, 870)] + [0.0, 5e-7, FLOOR_SECONDS, 1.0, 0.03, -1.0]
    unreal = [math.inf, math.nan, 2e9]
    con.execute("CREATE TABLE t (duration DOUBLE)")
    con.executemany("INSERT INTO t VALUES (?)", [[d] for d in durations + unreal])
    in_sql = con.execute(f"SELECT duration, {BUCKET_SQL} FROM t").fetchall()
    assert [bucket for _, bucket in in_sql] == [bucket_of(d) for d in durations + unreal]  # SQL and Python agree
    assert [bucket_of(d) for d in unreal] == [None, None, None]
    for duration in durations:
        bucket = bucket_of(duration)
        assert bucket is not None
        estimate = value_of(bucket)
        if duration < FLOOR_SECONDS:
            assert estimate == 0.0
        else:
            assert abs(estimate - duration) <= ERROR * duration * (1 + 1e-9)


def test_series_and_routes_agree_with_sql_over_the_rows(store: RequestLogStore) -> None:
    assert _assert_series_matches_sql(store) == 6000
    per_route = sum(_assert_series_matches_sql(store, route) for route in ("/users/{id}", "/orders", "/raw/1"))
    assert 0 < per_route < 6000
    _assert_routes_match_stats(store)
    slow = store.dashboard("slowest", started_after=START, started_before=END, limit=5)
    top = store.cursor().execute("SELECT id FROM request_logs ORDER BY duration DESC NULLS LAST, id DESC LIMIT 5")
    assert [row[0] for row in slow] == [row[0] for row in top.fetchall()]


def test_a_bucket_without_real_durations_has_no_percentiles(tmp_path: Path) -> None:
    store = RequestLogStore(tmp_path / "logs.duckdb")
    try:
        # Missing or unreal: counted as requests, left out of the percentiles (and the query still answers).
        rows = [make_row(i, started_at=START, duration=value) for i, value in enumerate((None, math.nan, math.inf))]
        store.insert_rows(rows, returning=False)
        bucket = int(START.replace(tzinfo=UTC).timestamp()) // STEP * STEP
        assert _series(store) == [(bucket, 3, 1, 1, [None, None, None])]
    finally:
        store.close()


def test_still_agree_after_prune_and_reopening(store: RequestLogStore, tmp_path: Path) -> None:
    before = _assert_series_matches_sql(store)
    store.prune(START + timedelta(days=1))
    after = _assert_series_matches_sql(store)
    kept = store.cursor().execute("SELECT count(*) FROM request_logs").fetchall()[0][0]
    assert after == kept < before
    _assert_routes_match_stats(store)
    store.close()
    reopened = RequestLogStore(tmp_path / "logs.duckdb")
    try:
        assert _assert_series_matches_sql(reopened) == kept
        _assert_routes_match_stats(reopened)
    finally:
        reopened.close()


def test_percentiles_match_a_sorted_list_in_python(store: RequestLogStore) -> None:
    """The nearest-rank definition itself, independent of DuckDB's quantile functions."""
    durations = sorted(r.duration for r in _rows(6000) if r.duration is not None)
    whole = store.dashboard("time_series", bucket_seconds=7 * 86400, started_after=START, started_before=END)
    assert len(whole) == 1
    for q, estimate in zip(QUANTILES, whole[0][4], strict=True):
        truth = durations[math.ceil(q * len(durations)) - 1]
        assert abs(estimate - truth) <= ERROR * truth * (1 + 1e-9)
