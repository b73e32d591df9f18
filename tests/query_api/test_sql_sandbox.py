"""The SQL sandbox on a real DuckDB file opened as the service opens it: every refusal, the limits."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from exporter.errors import SqlFailed, SqlRefused, SqlTimeout
from exporter.store import RequestLogStore
from query_api.sql.sandbox import check_sql, run_sql

from .sqldata import service_store


@pytest.fixture
def store(db_path: Path) -> Iterator[RequestLogStore]:
    with service_store(db_path, rows=50) as store:
        yield store


REFUSED = {
    "read_csv": ("SELECT * FROM read_csv('/etc/passwd')", "file and network access"),
    "read_csv_auto": ("SELECT * FROM read_csv_auto('/etc/passwd')", "file and network access"),
    "read_text": ("SELECT * FROM read_text('/etc/passwd')", "file and network access"),
    "read_blob": ("SELECT * FROM read_blob('/etc/passwd')", "file and network access"),
    "read_parquet_url": ("SELECT * FROM read_parquet('http://127.0.0.1:1/x.parquet')", "file and network access"),
    "glob": ("SELECT * FROM glob('/etc/*')", "file and network access"),
    "bare_path": ("SELECT * FROM '/etc/passwd'", "file and network access"),
    "bare_csv": ("FROM 'data.csv'", "file and network access"),
    "nested_in_cte": ("WITH x AS (SELECT * FROM read_text('/etc/hosts')) SELECT * FROM x", "file and network"),
    "in_subquery": ("SELECT 1 WHERE 1 IN (SELECT 1 FROM glob('/x'))", "file and network access"),
    "describe_path": ("DESCRIBE '/etc/passwd'", "file and network access"),
    "summarize_file": ("SUMMARIZE SELECT * FROM read_csv('/etc/passwd')", "file and network access"),
    "explain_file": ("EXPLAIN SELECT * FROM read_text('/etc/passwd')", "file and network access"),
    "copy_to": ("COPY request_logs TO '/tmp/stolen.csv'", "COPY"),
    "copy_from": ("COPY request_logs FROM '/etc/passwd'", "COPY"),
    "export_database": ("EXPORT DATABASE '/tmp/dump'", "EXPORT DATABASE"),
    "attach": ("ATTACH ':memory:' AS other", "ATTACH"),
    "attach_file": ("ATTACH '/tmp/other.duckdb'", "ATTACH"),
    "detach": ("DETACH other", "DETACH"),
    "install": ("INSTALL httpfs", "INSTALL and LOAD"),
    "load": ("LOAD httpfs", "INSTALL and LOAD"),
    "set": ("SET threads = 1", "settings cannot be changed"),
    "set_access": ("SET enable_external_access = true", "settings cannot be changed"),
    "reset": ("RESET memory_limit", "settings cannot be changed"),
    "set_variable": ("SET VARIABLE x = 1", "settings cannot be changed"),
    "pragma_set": ("PRAGMA threads = 1", "settings cannot be changed"),
    "pragma_memory": ("PRAGMA memory_limit = '100GB'", "settings cannot be changed"),
    "pragma_profiling": ("PRAGMA enable_profiling", "PRAGMA enable_profiling is not allowed"),
    "pragma_checkpoint": ("PRAGMA force_checkpoint", "PRAGMA force_checkpoint is not allowed"),
    "insert": ("INSERT INTO request_logs (endpoint) VALUES ('/x')", "INSERT"),
    "update": ("UPDATE request_logs SET ip = 'x'", "UPDATE"),
    "delete": ("DELETE FROM request_logs", "DELETE"),
    "create_table": ("CREATE TABLE t (a INT)", "CREATE"),
    "create_temp": ("CREATE TEMP TABLE t AS SELECT 1", "CREATE"),
    "create_macro": ("CREATE MACRO m(a) AS a", "CREATE"),
    "drop": ("DROP TABLE request_logs", "DROP"),
    "alter": ("ALTER TABLE request_logs ADD COLUMN x INT", "ALTER"),
    "checkpoint": ("CHECKPOINT", "CALL"),
    "checkpoint_function": ("SELECT * FROM checkpoint()", "checkpoint() is not allowed"),
    "vacuum": ("VACUUM", "VACUUM"),
    "begin": ("BEGIN TRANSACTION", "Transaction control"),
    "commit_then_delete": ("COMMIT; DELETE FROM request_logs", "Exactly one SQL statement"),
    "two_selects": ("SELECT 1; SELECT 2", "Exactly one SQL statement"),
    "query_function": ("SELECT * FROM query('SELECT * FROM checkpoint()')", "query() is not allowed"),
    "serialized_sql": ("SELECT * FROM json_execute_serialized_sql('{}')", "is not allowed"),
    "arrow_scan": ("SELECT * FROM arrow_scan(1, 2, 3)", "is not allowed"),
    "pivot_statement": ("PIVOT request_logs ON method USING count(*)", "MULTI"),
    "explain_delete": ("EXPLAIN DELETE FROM request_logs", "EXPLAIN is allowed only for a SELECT"),
    "prepare": ("PREPARE p AS SELECT 1", "PREPARE"),
    "empty": ("   ", "No SQL statement"),
}


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_refused_before_it_runs(store: RequestLogStore, name: str) -> None:
    sql, message = REFUSED[name]
    with pytest.raises(SqlRefused) as caught:
        run_sql(store.cursor(), sql)
    assert message in caught.value.message
    assert store.count() == 50  # nothing was written or deleted


def test_commit_cannot_escape_the_read_only_transaction(store: RequestLogStore) -> None:
    with pytest.raises(SqlRefused):
        run_sql(store.cursor(), "COMMIT; DELETE FROM request_logs;")
    assert store.count() == 50


def test_the_instance_refuses_files_even_past_the_checks(store: RequestLogStore) -> None:
    # Layer 4: were a file function ever to slip past the syntax check, the instance still refuses it.
    with pytest.raises(Exception, match="disabled by configuration"):
        store.cursor().execute("SELECT * FROM read_text('/etc/passwd')")


ALLOWED = [
    "SELECT count(*) FROM request_logs",
    "FROM request_logs LIMIT 1",
    "WITH r AS (SELECT route FROM request_logs) SELECT route, count(*) FROM r GROUP BY ALL",
    "VALUES (1, 'a')",
    "SELECT * FROM range(3)",
    "DESCRIBE request_logs",
    "SHOW TABLES",
    "SUMMARIZE SELECT duration FROM request_logs",
    "EXPLAIN SELECT * FROM request_logs",
    "PRAGMA table_info('request_logs')",
    "SELECT * FROM duckdb_tables()",
    "SELECT request_headers->>'User-Agent' AS ua FROM request_logs LIMIT 1",
    "SELECT key, value FROM request_logs, json_each(query_params) LIMIT 2",
    "SELECT 1 UNION ALL SELECT 2",
    "SELECT route, quantile_cont(duration, 0.95) FROM request_logs GROUP BY route",
]


@pytest.mark.parametrize("sql", ALLOWED)
def test_allowed_queries_run(store: RequestLogStore, sql: str) -> None:
    assert check_sql(store.cursor(), sql)
    result = run_sql(store.cursor(), sql)
    assert result.columns
    assert not result.truncated


def test_row_cap_truncates_and_says_so(store: RequestLogStore) -> None:
    result = run_sql(store.cursor(), "SELECT id FROM request_logs ORDER BY id", row_limit=10)
    assert [r[0] for r in result.rows] == list(range(1, 11))
    assert result.truncated
    exact = run_sql(store.cursor(), "SELECT id FROM request_logs", row_limit=50)
    assert len(exact.rows) == 50
    assert not exact.truncated


def test_runaway_query_is_interrupted(store: RequestLogStore) -> None:
    with pytest.raises(SqlTimeout) as caught:
        run_sql(
            store.cursor(), "SELECT sum(hash(a.range * b.range)) FROM range(1000000) a, range(1000000) b", timeout=0.3
        )
    assert "0.3 s time limit" in caught.value.message
    # The cursor that ran it is gone; the store keeps answering.
    assert run_sql(store.cursor(), "SELECT count(*) FROM request_logs").rows == [(50,)]


def test_duckdb_errors_are_reported(store: RequestLogStore) -> None:
    with pytest.raises(SqlFailed, match="syntax error"):
        run_sql(store.cursor(), "EXPLAIN SELEC 1")
    with pytest.raises(SqlFailed, match="no_such_column"):
        run_sql(store.cursor(), "SELECT no_such_column FROM request_logs")
    with pytest.raises(SqlFailed, match="syntax error"):
        run_sql(store.cursor(), "SELEC 1")


def test_json_output_shape_and_types(store: RequestLogStore) -> None:
    result = run_sql(
        store.cursor(),
        "SELECT id, started_at, duration, request_headers, is_bot, "
        "170141183460469231731687303715884105727::HUGEINT AS big, 1.50::DECIMAL(5, 2) AS price, "
        "INTERVAL 90 SECOND AS span FROM request_logs WHERE id = 1",
    )
    doc = orjson.loads(result.to_json())
    assert doc["columns"] == ["id", "started_at", "duration", "request_headers", "is_bot", "big", "price", "span"]
    assert doc["truncated"] is False
    (row,) = doc["rows"]
    assert row[0] == 1
    assert row[1] == "2025-11-19T14:00:00.123456Z"
    assert row[2] == 0.001
    assert row[3] == {"User-Agent": "Firefox", "Accept": "*/*"}  # JSON columns come back as objects
    assert row[4] is True  # row 0 is a bot
    assert row[5] == "170141183460469231731687303715884105727"  # past 64 bits: a string
    assert row[6] == 1.5
    assert row[7] == 90.0
