"""Rows DuckDB refuses to read within its memory limit, on a real file: served with notes, never an error."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import orjson
import pytest

from exporter.row import COLUMN
from exporter.store import RequestLogStore
from exporter.store_unreadable import NOTE, has_notes
from exporter.value_parts import ROWS_TABLE
from tests.query_api.harness import make_row

MIB = 1024 * 1024


@pytest.fixture(scope="module")
def refused_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # 40 rows of an incompressible 1 MiB body kept inline, as a file written before long bodies were
    # stored in parts (`exporter/value_parts.py`) holds them: a read of one asks DuckDB more than 16 MB.
    db = tmp_path_factory.mktemp("unreadable") / "rows.duckdb"
    store = RequestLogStore(db)
    try:
        for k in range(40):
            body = orjson.dumps(base64.b64encode(os.urandom(3 * MIB // 4)).decode()).decode()
            (request_id,) = store.insert_rows([make_row(k, request_headers='{"Accept": "*/*"}')])[0][:1]
            store.cursor().execute(f"UPDATE {ROWS_TABLE} SET body = ? WHERE id = ?", [body, request_id])
    finally:
        store.close()  # checkpoints: the bodies are in zstd segments now
    return db


def test_a_refused_row_comes_with_notes_in_place_of_what_was_refused(refused_file: Path) -> None:
    store = RequestLogStore(refused_file, memory_limit="16MB")
    try:
        values = store.get_values(20)
        assert values is not None and values[COLUMN.id] == 20 and has_notes(values)
        assert orjson.loads(values[COLUMN.body]) == NOTE and values[COLUMN.request_body_truncated] is True
        assert values[COLUMN.endpoint] == make_row(19).endpoint  # the narrow columns read as stored
        assert orjson.loads(values[COLUMN.request_headers]) == {"Accept": "*/*"}  # read alone, it fits
        assert store.get_values(999) is None
        assert set(store.get_many_values([3, 5, 999])) == {3, 5}
        # A page stops at a refused row: the first one alone, flagged as cut.
        rows, cut = store.list_page(limit=10, max_bytes=16 * MIB)
        assert [values[0] for values in rows] == [40] and cut and has_notes(rows[0])
    finally:
        store.close()


def test_the_same_rows_read_in_full_with_memory_enough(refused_file: Path) -> None:
    store = RequestLogStore(refused_file, memory_limit="1GB")
    try:
        values = store.get_values(20)
        assert values is not None and not has_notes(values) and len(values[COLUMN.body]) == MIB + 2
        assert values[COLUMN.request_body_truncated] is False
    finally:
        store.close()
