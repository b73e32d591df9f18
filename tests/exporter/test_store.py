"""The DuckDB store on a real file: schema from the row, migrations, batches, dedup, reads."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from pathlib import Path

import duckdb
import pytest

from exporter import RequestLog, RequestLogStore, StorageError, store_queries
from exporter import store as store_module
from exporter.row import COLUMN_NAMES, row_values
from exporter.schema import SCHEMA_VERSION, TABLE
from exporter.store import values_to_arrow


def row(n: int, **changes: object) -> RequestLog:
    base = RequestLog(
        method="GET",
        endpoint=f"/items/{n}",
        status_code=200,
        started_at=datetime(2025, 11, 19, 14, 55, 32, 673075),
        finished_at=datetime(2025, 11, 19, 14, 55, 32, 789033),
        duration=0.115958,
        request_headers='{"Host": "example"}',
        query_params="{}",
        trace_id=f"{n:032x}",
        span_id=f"{n:016x}",
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


@pytest.fixture
def store(db_path: Path):  # type: ignore[no-untyped-def]
    s = RequestLogStore(db_path)
    yield s
    s.close()


def test_table_columns_are_the_row_fields(store: RequestLogStore) -> None:
    names = [r[0] for r in store.cursor().execute(f"DESCRIBE {TABLE}").fetchall()]
    assert tuple(names) == (*COLUMN_NAMES, "span_key")  # plus the internal dedupe key
    types = dict(
        store.cursor()
        .execute(f"SELECT column_name, data_type FROM duckdb_columns() WHERE table_name = '{TABLE}'")
        .fetchall()
    )
    assert types["request_headers"] == "JSON" and types["started_at"] == "TIMESTAMP" and types["is_bot"] == "BOOLEAN"


def test_batch_insert_assigns_ids_and_insert_times(store: RequestLogStore) -> None:
    stored = store.insert_rows([row(1), row(2), row(3)])
    assert [values[0] for values in stored] == [1, 2, 3]
    fetched = store.get_row(2)
    assert fetched is not None
    assert fetched.endpoint == "/items/2"
    assert fetched.created_at is not None and fetched.created_at == fetched.updated_at
    assert dataclasses.replace(fetched, id=None, created_at=None, updated_at=None) == row(2)
    assert store.get_row(99) is None


def test_a_span_stored_twice_is_stored_once(store: RequestLogStore) -> None:
    assert len(store.insert_rows([row(1), row(1)])) == 1
    assert store.insert_rows([row(1)]) == []
    assert len(store.insert_rows([row(1), row(2)])) == 1
    assert store.count() == 2


def test_a_hash_collision_is_stored_not_dropped(store: RequestLogStore, monkeypatch: pytest.MonkeyPatch) -> None:
    # Every span gets the same key here, so a different span collides with the first one stored.
    weak = "CASE WHEN span_id IS NULL THEN NULL ELSE 1::UBIGINT END"
    for name, sql in zip(
        ("INSERT_HEAD", "INSERT_SKIPPING_STORED"), store_queries._insert_statements(weak), strict=True
    ):
        monkeypatch.setattr(store_module, name, sql)
    assert len(store.insert_rows([row(1)])) == 1
    assert len(store.insert_rows([row(2)])) == 1  # collides with row 1's key: stored, keyless
    assert store.insert_rows([row(1)]) == []  # a real duplicate is still skipped
    keys = store.cursor().execute("SELECT span_id, span_key FROM request_logs ORDER BY id").fetchall()
    assert keys == [(f"{1:016x}", 1), (f"{2:016x}", None)]


def test_spans_without_ids_are_never_deduplicated(store: RequestLogStore) -> None:
    anonymous = row(1, trace_id=None, span_id=None)
    assert len(store.insert_rows([anonymous])) == 1
    assert len(store.insert_rows([anonymous, anonymous])) == 2
    assert store.count() == 3


def test_a_failed_batch_stores_nothing(store: RequestLogStore) -> None:
    store.insert_rows([row(1)])
    # A status code outside INTEGER makes the batch fail as a whole: nothing of it is kept.
    with pytest.raises(StorageError):
        store.insert_rows([row(2), row(3, status_code=2**40)])
    assert store.count() == 1
    assert len(store.insert_rows([row(2)])) == 1


def test_reopen_keeps_rows_and_schema_version(db_path: Path) -> None:
    first = RequestLogStore(db_path)
    first.insert_rows([row(1)])
    first.close()
    first.close()  # idempotent
    again = RequestLogStore(db_path)
    try:
        assert again.count() == 1
        assert again.schema_version() == SCHEMA_VERSION
        assert again.insert_rows([row(2)])[0][0] == 2  # the sequence carries on
    finally:
        again.close()


def test_a_file_from_a_newer_release_is_refused(db_path: Path) -> None:
    RequestLogStore(db_path).close()
    con = duckdb.connect(str(db_path))
    con.execute("INSERT INTO reqlog_migrations VALUES (?, now())", [SCHEMA_VERSION + 1])
    con.close()
    with pytest.raises(StorageError, match="schema version"):
        RequestLogStore(db_path)


def test_an_older_file_is_migrated(db_path: Path) -> None:
    # A file as an unreleased version 0 would have left it: only the migrations table.
    con = duckdb.connect(str(db_path))
    con.execute("CREATE TABLE reqlog_migrations (version INTEGER PRIMARY KEY, applied_at TIMESTAMP)")
    con.close()
    store = RequestLogStore(db_path)
    try:
        assert store.schema_version() == SCHEMA_VERSION
        assert store.count() == 0
    finally:
        store.close()


def test_cursors_are_per_thread(store: RequestLogStore) -> None:
    import threading

    seen = []
    thread = threading.Thread(target=lambda: seen.append(store.cursor()))
    thread.start()
    thread.join()
    assert seen[0] is not store.cursor()
    assert store.cursor() is store.cursor()


def test_rows_inserted_by_hand_past_the_sequence_do_not_block_new_rows(tmp_path: Path) -> None:
    # Before: the clash on id was skipped like a retried span; the batch stored nothing, silently.
    store = RequestLogStore(tmp_path / "logs.duckdb")
    try:
        assert store.insert_values_counted([row_values(RequestLog(trace_id="a" * 32, span_id="1" * 16))]) == 1
        store.cursor().execute(
            "INSERT INTO request_log_rows (id, trace_id, span_id) VALUES (2, 'b', 'b'), (3, 'c', 'c')"
        )
        written = store.insert_values_counted(
            [row_values(RequestLog(trace_id="d" * 32, span_id=f"{k:016x}")) for k in range(3)]
        )
        assert written == 3
        assert store.count() == 6
        ids = sorted(r[0] for r in store.cursor().execute("SELECT id FROM request_logs").fetchall())
        assert ids[:3] == [1, 2, 3] and len(set(ids)) == 6 and min(ids[3:]) > 3  # a failed try may leave a gap
    finally:
        store.close()


def test_opening_moves_the_sequence_past_the_largest_id(tmp_path: Path) -> None:
    path = tmp_path / "logs.duckdb"
    RequestLogStore(path).close()
    con = duckdb.connect(str(path))
    con.execute("INSERT INTO request_log_rows (id, trace_id, span_id) VALUES (1000, 'x', 'y')")
    con.close()
    store = RequestLogStore(path)
    try:
        assert store.sync_sequence() == 1001
        stored = store.insert_rows([RequestLog(trace_id="e" * 32, span_id="2" * 16)])
        assert [values[0] for values in stored] == [1001]
    finally:
        store.close()


def test_an_id_clash_that_persists_is_an_error_not_a_skip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = RequestLogStore(tmp_path / "logs.duckdb")
    try:
        store.cursor().execute("INSERT INTO request_log_rows (id) SELECT range FROM range(1, 11)")
        monkeypatch.setattr(store, "sync_sequence", lambda: 1)  # a sequence that cannot move: every try clashes
        table = values_to_arrow([row_values(RequestLog(trace_id="f" * 32, span_id="3" * 16))])
        with pytest.raises(StorageError, match="insert of 1 rows failed"):
            store.insert_table(table, returning=False)
        assert store.count() == 10
    finally:
        store.close()
