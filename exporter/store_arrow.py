"""The Arrow form of a batch of rows to insert: the columns the store writes (not id nor insert times).

Writes go through an Arrow table registered with DuckDB, one per batch: a single INSERT ... SELECT
is far cheaper than `executemany`, which goes row by row (bench/exporter.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import pyarrow as pa

from .row import COLUMN, RequestLog, iter_columns, row_values
from .store_queries import INSERTED_COLUMNS
from .value_parts import PARTED_COLUMNS, PARTS_BYTES, parts_column, split_long

_ARROW_TYPES = {
    "BIGINT": pa.int64(),
    "BIGINT PRIMARY KEY": pa.int64(),
    "INTEGER": pa.int32(),
    "DOUBLE": pa.float64(),
    "BOOLEAN": pa.bool_(),
    "TIMESTAMP": pa.timestamp("us"),
    "VARCHAR": pa.string(),
    "JSON": pa.string(),
}
_INSERTED_COLUMNS = INSERTED_COLUMNS
_COLUMN_TYPES = {name: sql_type for name, sql_type, _ in iter_columns()}
_INSERTED_INDEXES = tuple(getattr(COLUMN, name) for name in _INSERTED_COLUMNS)
_PARTS = pa.list_(pa.string())
_ARROW_SCHEMA = pa.schema(
    [(name, _ARROW_TYPES[_COLUMN_TYPES[name]]) for name in _INSERTED_COLUMNS]
    + [(parts_column(name), _PARTS) for name in PARTED_COLUMNS]
    + [(PARTS_BYTES, pa.int64())]
)
_PARTED_INDEXES = tuple(getattr(COLUMN, name) for name in PARTED_COLUMNS)


def rows_to_arrow(rows: Iterable[RequestLog]) -> pa.Table:
    """Rows as an Arrow table of the inserted columns (id and insert times are the store's)."""
    return values_to_arrow([row_values(row) for row in rows])


def values_to_arrow(rows: Sequence[tuple[Any, ...]]) -> pa.Table:
    """Value tuples (column order) as an Arrow table of the inserted columns."""
    columns: list[Sequence[Any]] = list(zip(*rows, strict=True))
    if not columns:
        return _ARROW_SCHEMA.empty_table()
    parts, parted_bytes = [], None
    for i in _PARTED_INDEXES:  # a long body goes in parts (`value_parts`)
        columns[i], long_parts, sizes = split_long(columns[i])
        if long_parts is None:
            parts.append(pa.nulls(len(rows), _PARTS))
            continue
        parts.append(pa.array(long_parts, type=_PARTS))
        parted_bytes = sizes if parted_bytes is None else [a + b for a, b in zip(parted_bytes, sizes, strict=True)]
    fields = zip(_INSERTED_INDEXES, _ARROW_SCHEMA, strict=False)
    arrays = [pa.array(columns[i], type=field.type) for i, field in fields] + parts
    arrays.append(
        pa.nulls(len(rows), pa.int64())
        if parted_bytes is None
        else pa.array([size or None for size in parted_bytes], type=pa.int64())
    )
    return pa.Table.from_arrays(arrays, schema=_ARROW_SCHEMA)


_TRACE_ID, _SPAN_ID = COLUMN.trace_id, COLUMN.span_id


def unique_spans(rows: Sequence[tuple[Any, ...]]) -> Sequence[tuple[Any, ...]]:
    """Drop a span repeated within the batch (the first copy wins; rows without ids all stay)."""
    keys = {(row[_TRACE_ID], row[_SPAN_ID]) for row in rows}
    if len(keys) == len(rows):
        return rows  # the usual case, checked in C
    seen: set[tuple[Any, Any]] = set()
    out = []
    for row in rows:
        key = (row[_TRACE_ID], row[_SPAN_ID])
        if key[0] is not None and key[1] is not None:
            if key in seen:
                continue
            seen.add(key)
        out.append(row)
    return out
