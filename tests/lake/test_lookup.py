"""Lookups by id straight from the Parquet file (`exporter.lake.lookup`): DuckLake's answer, only faster.

Every answer is compared with DuckLake's own (`store_queries.get_values` through the attach), and
`files_read` shows which path answered. Batches of 20 rows: under 10, DuckLake keeps rows in the
catalog instead of a file.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from exporter import store_queries
from exporter.lake import LakeStore, parquet_rows
from exporter.lake.housekeeping import delete_days_before

from .conftest import Lake
from .rows import BASE, make_rows


def _ducklake(store: LakeStore, request_id: int) -> tuple[object, ...] | None:
    return store_queries.get_values(store.cursor(), request_id)


def test_a_lookup_reads_one_file_answers_as_ducklake_and_finds_fresh_rows(
    lake: Lake, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer = LakeStore(lake.writer())
    reader = LakeStore(lake.analyst(), read_only=True)
    try:
        for start in range(0, 60, 20):
            writer.insert_rows(make_rows(20, start=start))
        assert reader.files is not None
        for request_id in (1, 20, 21, 37, 60):
            before = reader.files.files_read
            values = reader.get_values(request_id)
            assert values is not None and values == _ducklake(reader, request_id)
            assert reader.files.files_read == before + 1
        many = reader.get_many_values([3, 44, 59, 61])
        assert sorted(many) == [3, 44, 59]
        assert all(values == _ducklake(reader, request_id) for request_id, values in many.items())
        assert reader.get_values(61) is None
        # A row group too large for Arrow to read whole: DuckDB's read_parquet reads the file instead.
        monkeypatch.setattr(parquet_rows, "MAX_READ_BYTES", 0)
        before = reader.files.files_read
        scanned = reader.get_values(22)
        assert scanned is not None and scanned == _ducklake(reader, 22)
        assert reader.files.files_read == before + 1
        monkeypatch.undo()
        # Committed after the index was read: found, from a file and from rows inlined in the catalog.
        writer.insert_rows(make_rows(20, start=60))
        fresh = reader.get_values(80)
        assert fresh is not None and fresh == _ducklake(reader, 80)
        writer.insert_rows(make_rows(3, start=80))  # under 10 rows: kept inlined in the catalog
        inlined = reader.get_values(83)
        assert inlined is not None and inlined == _ducklake(reader, 83)
        # Compacted (one file holding the rows of several commits): still one file read.
        writer.cursor().execute("SELECT * FROM ducklake_flush_inlined_data('lake')").fetchall()
        writer.cursor().execute("SELECT * FROM ducklake_merge_adjacent_files('lake', 'request_logs')").fetchall()
        for request_id in (2, 45, 83):
            before = reader.files.files_read
            compacted = reader.get_values(request_id)
            assert compacted is not None and compacted == _ducklake(reader, request_id)
            assert reader.files.files_read == before + 1
    finally:
        reader.close()
        writer.close()


def test_rows_deleted_by_retention_or_by_id_do_not_come_back(lake: Lake) -> None:
    writer = LakeStore(lake.writer())
    reader = LakeStore(lake.analyst(), read_only=True)
    try:
        writer.insert_rows(make_rows(20, day=BASE))
        writer.insert_rows(make_rows(20, start=20, day=BASE + timedelta(days=1)))
        writer.insert_rows(make_rows(20, start=40, day=BASE + timedelta(days=1)))
        assert reader.get_values(5) is not None and reader.get_values(25) is not None
        assert delete_days_before(writer.cursor(), (BASE + timedelta(days=1)).date()) == 20
        # The day's file is still on disk (no cleanup yet): only the catalog says it is gone.
        assert reader.get_values(5) is None
        assert reader.get_many_values([5, 25]).keys() == {25}
        # Rows deleted one by one leave their files with deletes: those files are DuckLake's to read.
        writer.cursor().execute("DELETE FROM request_logs WHERE id IN (27, 50)")
        assert reader.files is not None
        before = reader.files.files_read
        assert reader.get_values(27) is None and reader.get_values(50) is None
        kept = reader.get_values(28)
        assert kept is not None and kept == _ducklake(reader, 28)
        assert reader.files.files_read == before
    finally:
        reader.close()
        writer.close()
