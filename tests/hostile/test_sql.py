"""Attacks on the SQL sandbox, each named after what it tries, on a real DuckDB file opened as the service opens it."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exporter.errors import SqlError, SqlRefused
from exporter.store import RequestLogStore
from query_api.housekeeping.retention import parse_age
from query_api.sql.sandbox import MAX_SET_OPERATIONS, run_sql
from tests.query_api.sqldata import make_row, service_store


@pytest.fixture
def store(db_path: Path) -> Iterator[RequestLogStore]:
    with service_store(db_path, rows=20) as store:
        store.insert_rows([make_row(99, response='{"a": 1e999}', request_headers='{"x": NaN}')])
        yield store


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM duckdb_databases",
        "SELECT path FROM duckdb_databases()",
        "SELECT * FROM pragma_database_list",
        "SELECT * FROM pg_catalog.pg_settings",
        "SELECT * FROM duckdb_settings",
        "SELECT * FROM duckdb_settings()",
        "SELECT * FROM duckdb_extensions()",
        "SELECT current_setting('temp_directory')",
        "SELECT 1 WHERE current_setting('memory_limit') IS NOT NULL",
    ],
)
def test_reading_paths_or_settings_is_refused(store: RequestLogStore, sql: str) -> None:
    with pytest.raises(SqlRefused) as refused:
        run_sql(store.cursor(), sql)
    assert "not allowed" in refused.value.message


def test_update_extensions_is_refused(store: RequestLogStore) -> None:
    # Before: ValueError from the duckdb module (no name for the statement type) -> 500.
    with pytest.raises(SqlRefused):
        run_sql(store.cursor(), "UPDATE EXTENSIONS")


def test_300_nested_subqueries_are_refused(store: RequestLogStore) -> None:
    # Before: orjson's depth limit on the syntax tree -> JSONDecodeError -> 500.
    with pytest.raises(SqlError):
        run_sql(store.cursor(), "SELECT " + "(SELECT " * 300 + "1" + ")" * 300)


def test_a_huge_union_cannot_hold_a_thread_while_planning(store: RequestLogStore) -> None:
    # Before: 20,000 branches planned for ~117 s against the 5 s limit (planning is not interruptible).
    with pytest.raises(SqlRefused, match="too long"):
        run_sql(store.cursor(), " UNION ALL ".join(f"SELECT {i}" for i in range(20_000)))
    short = " UNION ALL ".join(f"SELECT {i % 10}" for i in range(MAX_SET_OPERATIONS + 2))
    with pytest.raises(SqlRefused, match="branches"):
        run_sql(store.cursor(), short)
    assert len(run_sql(store.cursor(), " UNION ALL ".join(f"SELECT {i}" for i in range(100))).rows) == 100


VALUES = {
    "hugeint_in_list": "SELECT [170141183460469231731687303715884105727::HUGEINT] AS v",
    "hugeint_in_struct": "SELECT {'a': -170141183460469231731687303715884105727::HUGEINT} AS v",
    "map_with_integer_keys": "SELECT histogram(status_code) AS v FROM request_logs",
    "map_with_float_and_date_keys": "SELECT MAP([1.5, 2.5], [2, 3]) AS a, MAP([DATE '2025-01-01'], [1]) AS v",
    "invalid_json_value": "SELECT '[1,]'::JSON AS v",
    "nan_and_infinities": "SELECT 'nan'::DOUBLE AS a, 'inf'::DOUBLE AS b, [-'inf'::DOUBLE] AS v",
    "1e999_in_a_stored_body": "SELECT response AS v, request_headers FROM request_logs WHERE response LIKE '%1e999%'",
    "blob": "SELECT '\\xAA\\x00\\xFF'::BLOB AS v",
    "uuid_interval_time": "SELECT uuid() AS a, INTERVAL 3 DAY AS b, TIME '01:02:03' AS v",
}


@pytest.mark.parametrize("sql", VALUES.values(), ids=VALUES.keys())
def test_every_value_type_gives_valid_json_and_csv(store: RequestLogStore, sql: str) -> None:
    # Before: TypeError (hugeint nested, map keys) -> 500, or invalid JSON ([1,], 1e999) and CSV crash.
    result = run_sql(store.cursor(), sql)
    answer = orjson.loads(result.to_json())  # orjson refuses NaN, Infinity and trailing commas
    assert answer["rows"], answer
    table = list(csv.reader(io.StringIO(result.to_csv())))
    assert table[0] == result.columns and len(table) == len(result.rows) + 1


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.one_of(
        st.lists(st.integers(min_value=-(2**127) + 1, max_value=2**127 - 1), min_size=1),
        st.lists(st.floats(), min_size=1),
    )
)
def test_any_numbers_in_a_list_give_valid_json(store: RequestLogStore, numbers: list[float]) -> None:
    literal = ", ".join(f"'{n!r}'::DOUBLE" if isinstance(n, float) else f"({n})::HUGEINT" for n in numbers)
    result = run_sql(store.cursor(), f"SELECT [{literal}] AS v")
    assert len(orjson.loads(result.to_json())["rows"][0][0]) == len(numbers)


@pytest.mark.parametrize("age", ["99999999999999d", "999999999w", "36501d"])
def test_a_huge_prune_age_is_a_clean_error(age: str) -> None:
    # Before: OverflowError building the timedelta or the cutoff -> 500 from the prune endpoint.
    with pytest.raises(ValueError):
        parse_age(age)


def test_a_huge_answer_is_cut_at_the_byte_budget(store: RequestLogStore) -> None:
    # 1,000 rows of 100 KB each (~100 MB) against a 1 MiB budget: few rows under the row cap, far over the bytes.
    sql = "SELECT i, repeat('x', 100000) AS big FROM range(1000) t(i)"
    result = run_sql(store.cursor(), sql, row_limit=10_000, byte_limit=1024 * 1024)
    assert result.truncated is True
    assert 0 < len(result.rows) < 11  # ten 100 KB rows fit in 1 MiB, the eleventh would not
    assert [row[0] for row in result.rows] == list(range(len(result.rows)))
    assert len(result.to_json()) <= 1024 * 1024 + 4096


def test_a_row_over_the_whole_budget_gives_an_empty_truncated_answer(store: RequestLogStore) -> None:
    result = run_sql(store.cursor(), "SELECT repeat('x', 200000) AS big", byte_limit=100_000)
    assert (result.rows, result.truncated) == ([], True)


def test_nested_values_count_against_the_byte_budget(store: RequestLogStore) -> None:
    sql = "SELECT [repeat('y', 50000), repeat('z', 50000)] AS pair, {'k': repeat('w', 50000)} AS s FROM range(100)"
    result = run_sql(store.cursor(), sql, byte_limit=1_000_000)
    assert result.truncated is True and 0 < len(result.rows) <= 6


def test_an_answer_within_both_limits_is_whole(store: RequestLogStore) -> None:
    result = run_sql(store.cursor(), "SELECT i, repeat('x', 1000) FROM range(500) t(i)", byte_limit=1024 * 1024)
    assert result.truncated is False and len(result.rows) == 500
