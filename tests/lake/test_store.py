"""The lake store against a real PostgreSQL catalog and real Parquet files: ids, spans stored once, same JSON."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import duckdb
import psycopg
import pyarrow as pa
import pytest

from exporter.errors import StorageError
from exporter.lake import LakeStore, ids
from exporter.log_filter import LogFilter
from exporter.row import render_json, row_values
from exporter.store import RequestLogStore, values_to_arrow

from .conftest import Lake
from .rows import make_rows


def _without_times(values: tuple[object, ...]) -> bytes:
    # created_at/updated_at are the moment of the insert: the rest of the JSON must match byte for byte.
    return render_json(tuple(None if i in (18, 19) else v for i, v in enumerate(values)))


def test_a_batch_takes_one_contiguous_range_and_reads_back(lake: Lake) -> None:
    store = LakeStore(lake.writer())
    try:
        first = store.insert_rows(make_rows(5))
        second = store.insert_rows(make_rows(3, start=5))
        assert [v[0] for v in first] == [1, 2, 3, 4, 5]
        assert [v[0] for v in second] == [6, 7, 8]
        assert store.get_values(7) == second[1]
        assert store.count() == 8
        assert [v[0] for v in store.list_values(limit=4)] == [8, 7, 6, 5]
    finally:
        store.close()


def test_same_json_as_the_single_file_for_the_same_rows(lake: Lake, tmp_path: Path) -> None:
    rows = make_rows(40)
    single = RequestLogStore(tmp_path / "single.duckdb")
    store = LakeStore(lake.writer())
    try:
        single.insert_rows(rows)
        store.insert_rows(rows)
        for request_id in (1, 2, 17, 40):
            lake_values, file_values = store.get_values(request_id), single.get_values(request_id)
            assert lake_values is not None and file_values is not None
            assert _without_times(lake_values) == _without_times(file_values)
        page = [_without_times(v) for v in store.list_values(limit=25, before_id=30)]
        assert page == [_without_times(v) for v in single.list_values(limit=25, before_id=30)]
        count_sql = "SELECT status_code, count(*), round(avg(duration), 6) FROM request_logs GROUP BY ALL ORDER BY 1"
        assert store.cursor().execute(count_sql).fetchall() == single.cursor().execute(count_sql).fetchall()
        route_sql = "SELECT * FROM route_latency ORDER BY route, method"
        assert store.cursor().execute(route_sql).fetchall() == single.cursor().execute(route_sql).fetchall()
    finally:
        store.close()
        single.close()


def test_ids_are_unique_across_concurrent_writers(lake: Lake) -> None:
    stores = [LakeStore(lake.writer()) for _ in range(3)]
    got: list[list[int]] = [[] for _ in stores]

    def write(n: int) -> None:
        for batch in range(6):
            stored = stores[n].insert_rows(make_rows(7, start=1000 * n + 10 * batch))
            got[n].append([v[0] for v in stored])  # type: ignore[arg-type]

    threads = [threading.Thread(target=write, args=(n,)) for n in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    try:
        batches = [batch for per_writer in got for batch in per_writer]
        assert len(batches) == 18
        for batch in batches:  # type: ignore[assignment]
            assert batch == list(range(batch[0], batch[0] + 7))  # type: ignore[index]
        every = sorted(i for batch in batches for i in batch)  # type: ignore[attr-defined]
        assert every == list(range(1, 18 * 7 + 1))
        assert stores[0].count() == 18 * 7
    finally:
        for store in stores:
            store.close()


def test_a_resent_batch_is_stored_once_even_after_a_restart(lake: Lake) -> None:
    rows = make_rows(6)
    store = LakeStore(lake.writer())
    store.insert_rows(rows)
    assert store.insert_rows(rows[2:] + make_rows(1, start=6)) == [store.get_values(7)]
    assert store.skipped_duplicates == 4
    store.close()
    # Committed, then the process ended before answering: the client sends the batch again.
    restarted = LakeStore(lake.writer())
    try:
        assert len(restarted.spans) == 7
        assert restarted.insert_rows(rows) == []
        assert restarted.count() == 7
    finally:
        restarted.close()


def test_a_span_whose_key_collides_is_kept_without_its_key(lake: Lake) -> None:
    store = LakeStore(lake.writer())
    try:
        stored = store.insert_rows(make_rows(1))
        (key,) = store.cursor().execute("SELECT span_key FROM request_logs").fetchall()[0]
        other = make_rows(1, start=50)
        # Pretend the memory met another span under the same key: it is confirmed against the lake.
        store.spans.remember([(key, stored[0][0])])
        table_key = store.cursor().execute("SELECT hash(?, ?)", [other[0].trace_id, other[0].span_id]).fetchall()[0][0]
        store.spans.remember([(table_key, stored[0][0])])
        assert len(store.insert_rows(other)) == 1
        assert store.count() == 2
        assert store.cursor().execute("SELECT count(*) FROM request_logs WHERE span_key IS NULL").fetchall() == [(1,)]
    finally:
        store.close()


def test_list_answers_stop_under_a_range_still_in_flight(lake: Lake) -> None:
    store = LakeStore(lake.writer())
    reader = LakeStore(lake.analyst(), read_only=True)
    try:
        store.insert_rows(make_rows(3))  # ids 1..3
        with psycopg.connect(lake.dsn("reqlog_writer"), autocommit=True) as conn:
            slow = ids.take(conn, 5)  # ids 4..8: a writer that has not committed yet
            store.insert_rows(make_rows(2, start=3))  # ids 9..10 commit first
            assert [v[0] for v in reader.list_values()] == [3, 2, 1]
            assert [v[0] for v in reader.list_values(after_id=2)] == [3]
            ids.release(conn, slow)  # given up (or committed): readers move on
        assert [v[0] for v in reader.list_values()] == [10, 9, 3, 2, 1]
        # A writer killed while it held a range: its PostgreSQL session ends, and readers move on.
        killed = psycopg.connect(lake.dsn("reqlog_writer"), autocommit=True)
        ids.take(killed, 5)  # ids 11..15
        store.insert_rows(make_rows(1, start=20))  # id 16
        assert [v[0] for v in reader.list_values()] == [10, 9, 3, 2, 1]
        killed.close()
        deadline = time.monotonic() + 10
        while [v[0] for v in reader.list_values()] != [16, 10, 9, 3, 2, 1]:
            assert time.monotonic() < deadline, "a dead session's range still held readers back"
            time.sleep(0.05)
    finally:
        reader.close()
        store.close()


def test_query_node_sees_new_commits_and_refuses_writes(lake: Lake) -> None:
    writer = LakeStore(lake.writer())
    reader = LakeStore(lake.analyst(), read_only=True)
    try:
        writer.insert_rows(make_rows(2))
        assert reader.count() == 2
        writer.insert_rows(make_rows(2, start=2))
        assert reader.count() == 4  # a new DuckLake snapshot on every read
        cursor = reader.cursor()
        with pytest.raises(duckdb.Error, match="read-only"):
            cursor.execute("DELETE FROM request_logs")
        with pytest.raises(duckdb.Error, match="read-only|permission denied"):
            cursor.execute(
                "SELECT * FROM postgres_execute('__ducklake_metadata_lake', 'DELETE FROM ducklake_snapshot')"
            )
        with pytest.raises(duckdb.Error, match="disabled"):
            cursor.execute("SELECT * FROM read_csv('/etc/passwd')")
        with pytest.raises(StorageError, match="read-only"):
            reader.insert_rows(make_rows(1, start=9))
        assert writer.count() == 4
    finally:
        reader.close()
        writer.close()


def test_the_analyst_role_cannot_read_the_accounts_database(lake: Lake) -> None:
    with pytest.raises(psycopg.OperationalError, match="permission denied"):
        psycopg.connect(lake.dsn("reqlog_analyst", lake.accounts_db)).close()


def test_newest_first_pages_widen_their_id_window_until_full(lake: Lake, tmp_path: Path) -> None:
    rows = make_rows(400)
    sparse = LogFilter(endpoint_prefix="/api/items/1?")  # only the row with id 2 (i = 1) matches
    single = RequestLogStore(tmp_path / "single.duckdb")
    store = LakeStore(lake.writer())
    try:
        for start in range(0, 400, 50):  # 8 commits: 8 files with contiguous ids
            single.insert_rows(rows[start : start + 50])
            store.insert_rows(rows[start : start + 50])
        for log_filter, before in ((sparse, None), (LogFilter(status_code=500), 390), (None, 20)):
            lake_page = [v[0] for v in store.list_values(log_filter, limit=2, before_id=before)]
            assert lake_page == [v[0] for v in single.list_values(log_filter, limit=2, before_id=before)]
            assert lake_page
        assert [v[0] for v in store.list_values(sparse, limit=2)] == [2]
        assert [v[0] for v in store.list_values(limit=3)] == [400, 399, 398]
    finally:
        store.close()
        single.close()


def test_a_span_twice_in_one_group_commit_is_stored_once(lake: Lake) -> None:
    # The ingest writer concatenates the tables of the requests queued together: a retry queued
    # beside its first try reaches the store in the same table.
    store = LakeStore(lake.writer())
    try:
        first = values_to_arrow([row_values(r) for r in make_rows(3)])
        retry = values_to_arrow([row_values(r) for r in make_rows(3)])
        written, _ = store.insert_table(pa.concat_tables([first, retry]), returning=False)
        assert written == 3
        assert store.count() == 3
        assert store.cursor().execute("SELECT count(DISTINCT span_key) FROM request_logs").fetchall() == [(3,)]
    finally:
        store.close()
