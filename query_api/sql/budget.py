"""How much of an analyst query's answer the service holds: at most so many rows and so many bytes.

A row cap alone let one query hold an answer of any size (a few rows of multi-megabyte bodies, or
`SELECT repeat('x', 1e6) FROM range(1000)`): a 381 MB answer was served whole and a 1 GB one took the
service down. Rows are fetched in small chunks and their size estimated as they arrive, so the
service stops reading once the budget is spent, and the answer says it was cut (`truncated`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import duckdb

DEFAULT_BYTE_LIMIT = 64 * 1024 * 1024
_CHUNK_ROWS = 256
_SCALAR_BYTES = 16  # a number, a time or a null, as it appears in JSON or CSV


def fetch_within(
    cursor: duckdb.DuckDBPyConnection, *, row_limit: int, byte_limit: int
) -> tuple[list[tuple[Any, ...]], bool]:
    """The first rows of `cursor`'s result within both limits, and whether any row was left out.

    A row that would take the answer past `byte_limit` is left out with all after it, so an answer
    whose first row alone is over the budget has no rows and `truncated` set.
    """
    rows: list[tuple[Any, ...]] = []
    spent = 0
    while len(rows) <= row_limit:
        chunk = cursor.fetchmany(min(_CHUNK_ROWS, row_limit + 1 - len(rows)))
        if not chunk:
            return rows, False
        for row in chunk:
            spent += value_bytes(row)
            if spent > byte_limit or len(rows) == row_limit:
                return rows, True
            rows.append(row)
    return rows, True


def value_bytes(value: Any) -> int:
    """About how many bytes `value` takes once rendered: its text for strings and blobs, nested values summed."""
    if isinstance(value, str | bytes | bytearray | memoryview):
        return len(value) + 2
    if isinstance(value, Mapping):
        return sum(value_bytes(k) + value_bytes(v) for k, v in value.items()) + 2
    if isinstance(value, list | tuple):
        return sum(value_bytes(item) for item in value) + 2
    return _SCALAR_BYTES
