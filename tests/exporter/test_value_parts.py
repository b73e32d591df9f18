"""Long bodies stored in parts (`exporter/value_parts.py`) on a real DuckDB file.

What matters: a long body reads back exactly (multi-byte characters across part boundaries
included), it is stored as parts while short ones stay inline, analysts see one `body` column of
type JSON, a file written before the parts is brought up to date with its rows unchanged, and a
restored backup parts its long bodies again. That a parted row reads within a small memory limit
is `tests/hostile/test_large_rows.py`'s attack.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import duckdb
import orjson
import pytest

from exporter.row import COLUMN
from exporter.schema import MIGRATIONS, SCHEMA_VERSION
from exporter.store import RequestLogStore
from exporter.value_parts import INLINE_BYTES, PART_CHARS, ROWS_TABLE, split_long
from tests.query_api.harness import make_row

# 3 x PART_CHARS characters and then some, with 2-, 3- and 4-byte characters falling on the cuts.
LONG_TEXT = ("aé€😀" * PART_CHARS)[: 3 * PART_CHARS + 5]
LONG_BODY = orjson.dumps({"text": LONG_TEXT}).decode()
SHORT_BODY = orjson.dumps({"text": "é" * 100}).decode()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[RequestLogStore]:
    store = RequestLogStore(tmp_path / "parts.duckdb")
    yield store
    store.close()


def test_a_long_body_reads_back_exactly_and_is_stored_in_parts(store: RequestLogStore) -> None:
    returned = store.insert_rows(
        [make_row(1, body=LONG_BODY, response=SHORT_BODY), make_row(2, body=SHORT_BODY, response=LONG_BODY)]
    )  # what the service caches and renders right after the write: whole too
    assert [(v[COLUMN.body], v[COLUMN.response]) for v in returned] == [
        (LONG_BODY, SHORT_BODY),
        (SHORT_BODY, LONG_BODY),
    ]
    for request_id, body, response in ((1, LONG_BODY, SHORT_BODY), (2, SHORT_BODY, LONG_BODY)):
        values = store.get_values(request_id)
        assert values is not None
        assert values[COLUMN.body] == body and values[COLUMN.response] == response
    stored = (
        store.cursor()
        .execute(
            f"SELECT id, body IS NULL, len(body_parts), response IS NULL, len(response_parts) "
            f"FROM {ROWS_TABLE} ORDER BY id"
        )
        .fetchall()
    )
    long_parts = -(-len(LONG_BODY) // PART_CHARS)
    assert stored == [(1, True, long_parts, False, None), (2, False, None, True, long_parts)]
    sizes = store.cursor().execute(f"SELECT parts_bytes FROM {ROWS_TABLE} ORDER BY id").fetchall()
    assert sizes == [(len(LONG_BODY.encode()),), (len(LONG_BODY.encode()),)]


def test_several_rows_are_read_whole_and_a_page_counts_their_parts(store: RequestLogStore) -> None:
    # Several rows are read from the table without its parts columns (which would read the parts of
    # every row around them); a row with parts is then read alone, and its parts count in the page size.
    bodies = [LONG_BODY if k % 2 else SHORT_BODY for k in range(6)]
    store.insert_rows([make_row(k, body=body) for k, body in enumerate(bodies)], returning=False)
    rows, cut = store.list_page(limit=10, max_bytes=64 * 1024 * 1024)
    assert [(v[COLUMN.id], v[COLUMN.body]) for v in rows] == [(6 - k, bodies[5 - k]) for k in range(6)] and not cut
    many = store.get_many_values([1, 2, 3, 999])
    assert {i: v[COLUMN.body] for i, v in many.items()} == {1: bodies[0], 2: bodies[1], 3: bodies[2]}
    long_row = len(LONG_BODY.encode())
    rows, cut = store.list_page(limit=10, max_bytes=2 * long_row + long_row // 2)  # two long rows and change
    assert [v[COLUMN.id] for v in rows] == [6, 5, 4, 3] and cut


def test_the_cut_is_at_inline_bytes_not_characters(store: RequestLogStore) -> None:
    at_limit = orjson.dumps("x" * (INLINE_BYTES - 2)).decode()  # INLINE_BYTES bytes: stays inline
    over_by_bytes = orjson.dumps("é" * (INLINE_BYTES // 2)).decode()  # fewer characters, more bytes
    store.insert_rows([make_row(1, body=at_limit), make_row(2, body=over_by_bytes)], returning=False)
    stored = store.cursor().execute(f"SELECT body IS NULL FROM {ROWS_TABLE} ORDER BY id").fetchall()
    assert stored == [(False,), (True,)]
    assert [store.get_values(i)[COLUMN.body] for i in (1, 2)] == [at_limit, over_by_bytes]  # type: ignore[index]


def test_analysts_see_one_json_body_column(store: RequestLogStore) -> None:
    store.insert_rows([make_row(1, body=LONG_BODY)], returning=False)
    cursor = store.cursor()
    described = {name: sql_type for name, sql_type, *_ in cursor.execute("DESCRIBE request_logs").fetchall()}
    assert described["body"] == "JSON" and described["response"] == "JSON"
    assert "body_parts" not in described
    assert cursor.execute("SELECT body->>'$.text' FROM request_logs").fetchall() == [(LONG_TEXT,)]
    assert cursor.execute("SELECT count(*) FROM route_latency").fetchall()[0][0] == 1  # views over it work


def test_a_file_written_before_the_parts_is_brought_up_to_date(tmp_path: Path) -> None:
    db = tmp_path / "v2.duckdb"
    con = duckdb.connect(str(db))
    con.execute("CREATE TABLE reqlog_migrations (version INTEGER PRIMARY KEY, applied_at TIMESTAMP)")
    for version, statements in MIGRATIONS[:2]:
        for statement in statements:
            con.execute(statement)
        con.execute("INSERT INTO reqlog_migrations VALUES (?, now())", [version])
    con.execute("INSERT INTO request_logs (id, endpoint, body) VALUES (1, '/old', ?)", [LONG_BODY])
    con.close()
    store = RequestLogStore(db)
    try:
        assert store.cursor().execute("SELECT max(version) FROM reqlog_migrations").fetchall() == [(SCHEMA_VERSION,)]
        old = store.get_values(1)
        assert old is not None and old[COLUMN.body] == LONG_BODY  # kept inline, read as before
        store.sync_sequence()
        store.insert_rows([make_row(2, body=LONG_BODY)], returning=False)
        new = store.get_values(2)
        assert new is not None and new[COLUMN.body] == LONG_BODY
        stored = store.cursor().execute(f"SELECT id, body IS NULL FROM {ROWS_TABLE} ORDER BY id").fetchall()
        assert stored == [(1, False), (2, True)]
    finally:
        store.close()


def test_the_sql_macros_cut_as_the_writer_does(store: RequestLogStore) -> None:
    # A restore from Parquet or a backup parts long bodies with `reqlog_inline`/`reqlog_parts`.
    cursor = store.cursor()
    for value in (LONG_BODY, SHORT_BODY, orjson.dumps("é" * (INLINE_BYTES // 2)).decode(), None):
        inline, parts, sizes = split_long([value])
        expected = (inline[0], None if parts is None else parts[0], sizes[0] or None)
        sql = "SELECT reqlog_inline(?), reqlog_parts(?), reqlog_parts_bytes(?, NULL)"
        assert cursor.execute(sql, [value, value, value]).fetchall() == [expected]


def test_a_long_value_that_is_not_json_is_stored_as_a_json_string(store: RequestLogStore) -> None:
    # DuckDB checks the JSON column at insert, but parts are plain text: the writer checks them.
    not_json = "{not json " + "x" * INLINE_BYTES
    big_int = "[" + "1" * 40 + ", " + "2" * (INLINE_BYTES + 10) + "]"  # JSON, with integers past 64 bits
    store.insert_rows([make_row(1, body=not_json), make_row(2, body=big_int)], returning=False)
    bodies = store.cursor().execute("SELECT body, json_valid(body) FROM request_logs ORDER BY id").fetchall()
    assert bodies == [(orjson.dumps(not_json).decode(), True), (big_int, True)]
    sizes = store.cursor().execute(f"SELECT parts_bytes FROM {ROWS_TABLE} ORDER BY id").fetchall()
    assert sizes == [(len(orjson.dumps(not_json)),), (len(big_int),)]  # what is stored
