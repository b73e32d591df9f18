"""Rows by id from one of the lake's Parquet files, read with Arrow: one row group, no SQL to plan.

DuckLake's files never change once written, so each file's footer (row groups, id min/max per row
group, the columns' field ids) is parsed once and kept, up to a byte budget. A lookup then reads only
the row groups whose id range holds the ids: writers write row groups of `ROW_GROUP_ROWS` rows, so
that is ~2 MB of columns, a few milliseconds, where a SQL query costs binding, planning and a scan.

Columns are matched by the field ids DuckLake writes (the catalog's column ids), not only by name:
a file whose columns differ from the table's (written before a column was added, say) gets None, as
does a row group too large to read whole (files written before the row-group setting); the caller
then asks DuckDB.
"""

from __future__ import annotations

import collections
import threading
from collections.abc import Mapping, Sequence
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ..row import COLUMN_NAMES

ROW_GROUP_ROWS = 2048  # DuckLake's `parquet_row_group_size`, set by the writers (`store`)
MAX_READ_BYTES = 8 << 20  # larger row groups (uncompressed) are left to DuckDB's filtered scan
FOOTER_BUDGET_BYTES = 16 << 20
_FIELD_ID = b"PARQUET:field_id"


class _Footer:
    __slots__ = ("metadata", "fields", "id_ranges", "size")

    def __init__(self, metadata: pq.FileMetaData) -> None:
        self.metadata = metadata
        schema = metadata.schema.to_arrow_schema()
        self.fields = {
            field.name: int(field.metadata[_FIELD_ID])
            for field in schema
            if field.metadata is not None and _FIELD_ID in field.metadata
        }
        position = schema.get_field_index("id")
        self.id_ranges: list[tuple[int, int] | None] = []
        for group in range(metadata.num_row_groups):
            statistics = metadata.row_group(group).column(position).statistics if position >= 0 else None
            if statistics is not None and statistics.has_min_max:
                self.id_ranges.append((int(statistics.min), int(statistics.max)))
            else:
                self.id_ranges.append(None)
        self.size = int(metadata.serialized_size)


class ParquetRows:
    """Footers of the files read lately, kept up to `FOOTER_BUDGET_BYTES`; `read` the rows of some ids."""

    def __init__(self, budget_bytes: int = FOOTER_BUDGET_BYTES) -> None:
        self._budget = budget_bytes
        self._footers: collections.OrderedDict[str, _Footer] = collections.OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def _footer(self, path: str) -> _Footer:
        with self._lock:
            footer = self._footers.get(path)
            if footer is not None:
                self._footers.move_to_end(path)
                return footer
        footer = _Footer(pq.read_metadata(path))
        with self._lock:
            if path not in self._footers:
                self._footers[path] = footer
                self._bytes += footer.size
            while self._bytes > self._budget and len(self._footers) > 1:
                _, dropped = self._footers.popitem(last=False)
                self._bytes -= dropped.size
        return footer

    def read(self, path: str, ids: Sequence[int], column_ids: Mapping[str, int]) -> list[tuple[Any, ...]] | None:
        """The rows of `ids` in `path` as value tuples in column order, or None when DuckDB must read it.

        Raises `OSError` or `pyarrow.ArrowException` when the file cannot be read.
        """
        footer = self._footer(path)
        if any(name not in column_ids or footer.fields.get(name) != column_ids[name] for name in COLUMN_NAMES):
            return None
        groups = [
            group
            for group, id_range in enumerate(footer.id_ranges)
            if id_range is None or any(id_range[0] <= request_id <= id_range[1] for request_id in ids)
        ]
        if sum(footer.metadata.row_group(group).total_byte_size for group in groups) > MAX_READ_BYTES:
            return None
        if not groups:
            return []
        table = pq.ParquetFile(path, metadata=footer.metadata).read_row_groups(groups, columns=list(COLUMN_NAMES))
        table = table.filter(pc.is_in(table["id"], value_set=pa.array(ids, pa.int64())))
        return [tuple(row[name] for name in COLUMN_NAMES) for row in table.to_pylist()]
