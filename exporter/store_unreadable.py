"""A row DuckDB cannot read within its memory limit: served with what can be read, the rest flagged.

DuckDB reads the long zstd columns (bodies, headers, tracebacks) a vector of 2,048 rows at a time,
even for `WHERE id = ?` through the primary key's index: on a file of ~700 rows of two
incompressible 1 MiB bodies (OTLP's own cap), one row's query asks more than the default 1 GB
`REQLOG_MEMORY_LIMIT` and DuckDB refuses it (docs/design-notes.md, "Large rows"). A retrieve or a
list page then answered 500. Now such a row is read without its long columns, then each of those
alone; one DuckDB still refuses is replaced by a note, as the caps do (`limits`): a body becomes a
JSON string saying so with its truncation flag set, a header or query column an object under
`reqlog.truncated`, a text column the note itself. Only the refused values are lost, and only for
that read: the file still holds them, and a larger memory limit reads them.
"""

from __future__ import annotations

import logging
from typing import Any

import duckdb
import orjson

from .row import COLUMN, COLUMN_NAMES, JSON_COLUMNS, iter_columns
from .schema import TABLE

logger = logging.getLogger("exporter.store")

NOTE = "[reqlog: not readable within the memory limit (REQLOG_MEMORY_LIMIT)]"
LONG_COLUMNS = tuple(name for name, _, compression in iter_columns() if compression)
_NARROW = tuple(name for name in COLUMN_NAMES if name not in LONG_COLUMNS)
_TRUNCATED_FLAG = {"body": COLUMN.request_body_truncated, "response": COLUMN.response_body_truncated}
_NOTES = {
    name: orjson.dumps(NOTE).decode()
    if name in _TRUNCATED_FLAG
    else orjson.dumps({"reqlog.truncated": NOTE}).decode()
    if name in JSON_COLUMNS
    else NOTE
    for name in LONG_COLUMNS
}
_NOTE_VALUES = frozenset(_NOTES.values())
_LONG_POSITIONS = tuple(getattr(COLUMN, name) for name in LONG_COLUMNS)


def read_row(cursor: duckdb.DuckDBPyConnection, request_id: int) -> tuple[Any, ...] | None:
    """The row `request_id` in column order, its long values that DuckDB refuses replaced by notes.

    For a row whose full read DuckDB refused. Raises `duckdb.Error` when even the narrow columns
    cannot be read; `None` when no row has that id.
    """
    found = cursor.execute(f"SELECT {', '.join(_NARROW)} FROM {TABLE} WHERE id = ?", [request_id]).fetchall()
    if not found:
        return None
    values = dict(zip(_NARROW, found[0], strict=True))
    refused = []
    for name in LONG_COLUMNS:
        try:
            rows = cursor.execute(f"SELECT {name} FROM {TABLE} WHERE id = ?", [request_id]).fetchall()
            values[name] = rows[0][0] if rows else None
        except duckdb.OutOfMemoryException:
            refused.append(name)
            values[name] = _NOTES[name]
            if name in _TRUNCATED_FLAG:
                values[COLUMN_NAMES[_TRUNCATED_FLAG[name]]] = True
    if refused:
        logger.warning(
            "row %d: DuckDB refused the memory to read %s; served with notes in their place (REQLOG_MEMORY_LIMIT)",
            request_id,
            ", ".join(refused),
        )
    return tuple(values[name] for name in COLUMN_NAMES)


def has_notes(values: tuple[Any, ...]) -> bool:
    """Whether a row was read with notes in place of values (`read_row`): not one to cache."""
    return any(values[at] in _NOTE_VALUES for at in _LONG_POSITIONS)
