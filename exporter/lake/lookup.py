"""Lookups by id that read the one Parquet file holding the id, without DuckLake's catalog round trips.

A query through DuckLake 1.5.5 costs about seven statements to the catalog (the snapshot, table and
column statistics, the file list, the id statistics, the delete files, the inlined deletes and data)
before it opens a file: ~80 ms of a lookup on a loaded machine, when the file itself takes a few.
`FileIndex` keeps the table's live files with their id range, read from the catalog in one go and
kept while the catalog's latest snapshot stays the same (one cheap query a lookup says so: a row
deleted by retention is gone from the next lookup on). A lookup then reads the file whose range
holds the id itself: the row group holding it with Arrow (`parquet_rows`), else with DuckDB's
`read_parquet`.

Only plain files take this path: a file with deletes (a delete file or rows in the catalog's inlined
deletes), a compacted file holding rows of a snapshot after the index's, an encrypted file, or a
file mapped from a foreign schema is left to DuckLake.
An id found in no plain file (a fresh commit the index has not seen, rows kept inlined in the
catalog, an id that does not exist) is answered by DuckLake too, so the answer is always DuckLake's.
"""

from __future__ import annotations

import bisect
import dataclasses
import os
import threading
from collections.abc import Sequence
from typing import Any

import duckdb
import psycopg
import pyarrow as pa

from ..row import iter_columns
from ..schema import TABLE
from .parquet_rows import ParquetRows
from .schema import lake_type

_LATEST = "SELECT max(snapshot_id) FROM ducklake_snapshot"
# The table, its path under the data path and its id column as of snapshot %(s)s.
_TABLE = """
SELECT t.table_id, c.column_id, s.path, s.path_is_relative, t.path, t.path_is_relative
FROM ducklake_table t
JOIN ducklake_schema s ON s.schema_id = t.schema_id
JOIN ducklake_column c ON c.table_id = t.table_id AND c.column_name = 'id'
    AND c.begin_snapshot <= %(s)s AND (c.end_snapshot IS NULL OR c.end_snapshot > %(s)s)
WHERE t.table_name = %(table)s AND s.schema_name = 'main'
    AND t.begin_snapshot <= %(s)s AND (t.end_snapshot IS NULL OR t.end_snapshot > %(s)s)
    AND s.begin_snapshot <= %(s)s AND (s.end_snapshot IS NULL OR s.end_snapshot > %(s)s)
"""
# The table's files live at snapshot %(s)s, with their id range and whether only DuckLake may read them.
# A compacted file holds rows of several snapshots (`partial_max` the newest): all visible at %(s)s.
_FILES = """
SELECT f.data_file_id, f.path, f.path_is_relative, st.min_value, st.max_value,
    f.partial_max > %(s)s OR f.encryption_key IS NOT NULL OR f.mapping_id IS NOT NULL
    OR EXISTS (SELECT 1 FROM ducklake_delete_file d WHERE d.data_file_id = f.data_file_id
        AND d.begin_snapshot <= %(s)s AND (d.end_snapshot IS NULL OR d.end_snapshot > %(s)s))
FROM ducklake_data_file f
JOIN ducklake_file_column_stats st ON st.data_file_id = f.data_file_id AND st.column_id = %(column)s
WHERE f.table_id = %(table)s AND f.begin_snapshot <= %(s)s AND (f.end_snapshot IS NULL OR f.end_snapshot > %(s)s)
"""
_COLUMNS = """
SELECT column_name, column_id FROM ducklake_column
WHERE table_id = %(table)s AND parent_column IS NULL
    AND begin_snapshot <= %(s)s AND (end_snapshot IS NULL OR end_snapshot > %(s)s)
"""
_SELECT = ", ".join(f"{name}::{lake_type(sql_type)}" for name, sql_type, _ in iter_columns())


@dataclasses.dataclass(frozen=True, slots=True)
class _File:
    low: int
    high: int
    path: str


def _joined(base: str, path: str, relative: bool) -> str:
    if not relative:
        return path
    return base if not path else base.rstrip("/") + "/" + path


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


class FileIndex:
    """The plain files of the lake's table by id range, as of the catalog's latest snapshot."""

    def __init__(self, pg: psycopg.Connection[Any], pg_lock: threading.Lock, data_path: str) -> None:
        self._pg = pg
        self._data_path = data_path  # this node's, as it attached the lake (the catalog's may be another mount)
        self._pg_lock = pg_lock
        self._snapshot: int | None = None
        self._files: list[_File] = []  # sorted by low
        self._lows: list[int] = []
        self._column_ids: dict[str, int] = {}
        self._rows = ParquetRows()
        self.files_read = 0  # Parquet files this index read itself (tests and bench/lake.py look at it)
        self.reloads = 0

    def _current(self) -> tuple[list[_File], list[int], dict[str, int]]:
        """The files as of the latest snapshot: one query, plus a reload when a commit came since."""
        with self._pg_lock:
            row = self._pg.execute(_LATEST).fetchone()
            latest = None if row is None or row[0] is None else int(row[0])
            if latest != self._snapshot:
                self._files = self._load(latest) if latest is not None else []
                self._lows = [file.low for file in self._files]
                self._snapshot = latest
                self.reloads += 1
            return self._files, self._lows, self._column_ids

    def _load(self, snapshot: int) -> list[_File]:
        table = self._pg.execute(_TABLE, {"s": snapshot, "table": TABLE}).fetchone()
        if table is None:
            return []
        table_id, column_id, schema_path, schema_relative, table_path, table_relative = table
        base = _joined(_joined(self._data_path, str(schema_path), bool(schema_relative)), table_path, table_relative)
        inlined = f"ducklake_inlined_delete_{int(table_id)}"
        with_deletes: set[int] = set()
        if self._pg.execute("SELECT to_regclass(%s)", [inlined]).fetchone() not in (None, (None,)):
            deleted = self._pg.execute(f"SELECT DISTINCT file_id FROM {inlined} WHERE begin_snapshot <= %s", [snapshot])
            with_deletes = {int(file_id) for (file_id,) in deleted.fetchall()}
        columns = self._pg.execute(_COLUMNS, {"s": snapshot, "table": table_id}).fetchall()
        self._column_ids = {str(name): int(column_id) for name, column_id in columns}
        root = os.path.realpath(self._data_path)
        files = []
        live = self._pg.execute(_FILES, {"s": snapshot, "table": table_id, "column": column_id}).fetchall()
        for file_id, path, relative, low, high, only_ducklake in live:
            if only_ducklake or int(file_id) in with_deletes or low is None or high is None:
                continue
            full = _joined(base, str(path), bool(relative))
            if os.path.commonpath([root, os.path.realpath(full)]) == root:  # only files under the data path
                files.append(_File(int(low), int(high), full))
        files.sort(key=lambda file: file.low)
        return files

    def _holding(self, files: list[_File], lows: list[int], request_id: int) -> list[_File]:
        """The files whose id range holds `request_id` (one, with ids in contiguous ranges per batch)."""
        end = bisect.bisect_right(lows, request_id)
        return [file for file in files[:end] if file.high >= request_id]

    def get_many_values(
        self, cursor: duckdb.DuckDBPyConnection, request_ids: Sequence[int]
    ) -> tuple[dict[int, tuple[Any, ...]], list[int]]:
        """Rows found in plain files, and the ids left for DuckLake to answer."""
        files, lows, column_ids = self._current()
        by_file: dict[str, list[int]] = {}
        left: list[int] = []
        for request_id in request_ids:
            holding = self._holding(files, lows, request_id)
            if not holding:
                left.append(request_id)
            for file in holding:
                by_file.setdefault(file.path, []).append(request_id)
        found: dict[int, tuple[Any, ...]] = {}
        for path, wanted in by_file.items():
            try:
                rows = self._rows.read(path, wanted, column_ids)
                if rows is None:
                    marks = ", ".join("?" for _ in wanted)
                    scan = f"SELECT {_SELECT} FROM read_parquet({_quote(path)}) WHERE id IN ({marks})"
                    rows = cursor.execute(scan, wanted).fetchall()
            except (OSError, pa.ArrowException, duckdb.Error):
                continue  # gone since (compacted and cleaned up), or unreadable here: DuckLake answers
            self.files_read += 1
            for values in rows:
                found.setdefault(int(values[0]), values)
        tried = {request_id for wanted in by_file.values() for request_id in wanted}
        left.extend(request_id for request_id in tried if request_id not in found)
        return found, left
