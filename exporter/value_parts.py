"""Long bodies stored in parts, so that reading one row never needs its neighbours' bodies.

DuckDB compresses a text column 2,048 rows at a time (zstd), and reading even one row by its id
decompresses the whole vector: rows of 1 MiB bodies (the ingest's cap) made a retrieve need
~2 GiB, more than the default `memory_limit`, so DuckDB refused it. A list column is different:
its items live in a child column of their own, and reading one row reads only the child vectors
that hold its items. So a body longer than `INLINE_BYTES` is stored as a list of
`PART_CHARS`-character parts, and reading any one row needs at most a vector of inline bodies
(2,048 x 64 KiB) plus a vector of parts (2,048 x 16 Ki characters), whatever the other rows hold
(`docs/design-notes.md`, "Large rows").

The file's table is `request_log_rows`: the columns of `RequestLog`, each parted column with its
`<name>_parts` beside it (NULL unless the value is long), `parts_bytes` (the bytes the row keeps in
parts, NULL when none: a narrow column, so several rows are read without touching any parts), and
the span key. `request_logs`, what every reader and every analyst queries, is a view that puts each
long value back together, with the columns, names and types of `RequestLog`. Writes (insert,
prune, restore) and the service's reads of several rows (`store_queries`) name the table.
Rows written before the parts existed keep their long values inline; they read as before.
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec
import orjson

from .repair import clean_text
from .row import COLUMN_NAMES

ROWS_TABLE = "request_log_rows"
PARTED_COLUMNS = ("body", "response")
PARTS_BYTES = "parts_bytes"
PART_CHARS = 16 * 1024
# A value of more than INLINE_BYTES bytes of UTF-8 is parted; it is cut by characters, so a part
# holds at most 4 x PART_CHARS bytes. 64 KiB is the instrumentation's own capture limit: what it
# captures stays inline, at no cost (rows with 32 KiB bodies were ingested ~25-45% slower in parts),
# and a vector of inline bodies is at most 128 MiB a column.
INLINE_BYTES = 64 * 1024
_SURELY_INLINE_CHARS = INLINE_BYTES // 4  # even all 4-byte characters fit


def parts_column(name: str) -> str:
    return f"{name}_parts"


def stored_columns(columns: tuple[str, ...]) -> tuple[str, ...]:
    """The table's columns that hold `columns`: the parts columns and `parts_bytes` added."""
    return (*columns, *(parts_column(name) for name in PARTED_COLUMNS), PARTS_BYTES)


def _utf8_bytes(value: str) -> int:
    return len(value.encode("utf-8", "surrogatepass"))


# Decoding into `Raw` checks the text against the JSON grammar without building Python objects.
_JSON_GRAMMAR = msgspec.json.Decoder(msgspec.Raw)


def valid_json(text: str) -> str:
    """`text` if it is JSON, else `text` as a JSON string: the check DuckDB's JSON type makes at
    insert, which parts (plain text) skip. A short value DuckDB refuses is stored the same way
    (`isolation`)."""
    try:
        _JSON_GRAMMAR.decode(text)
        return text
    except (msgspec.DecodeError, UnicodeEncodeError, RecursionError):  # lone surrogates; deep nesting
        return orjson.dumps(clean_text(text)).decode()


def split_long(values: Sequence[str | None]) -> tuple[Sequence[str | None], list[list[str] | None] | None, list[int]]:
    """`values` as (inline values, parts, bytes): a long value is NULL inline, a list of parts.

    The parts are `None` when no value is long (the usual batch: one length check a value), and
    `bytes[i]` is the UTF-8 size of value i when it went into parts, else 0. A long value that is
    not JSON is kept as a JSON string (`valid_json`). Cut in Python, so the copies live in the
    batch, outside DuckDB's memory limit.
    """
    maybe = [i for i, value in enumerate(values) if value is not None and len(value) > _SURELY_INLINE_CHARS]
    sizes = [0] * len(values)
    for i in maybe:
        size = _utf8_bytes(values[i])  # type: ignore[arg-type]
        if size > INLINE_BYTES:
            sizes[i] = size
    long = [i for i in maybe if sizes[i]]
    if not long:
        return values, None, sizes
    inline = list(values)
    parts: list[list[str] | None] = [None] * len(values)
    for i in long:
        value = valid_json(inline[i])  # type: ignore[arg-type]
        if value is not inline[i]:
            sizes[i] = _utf8_bytes(value)  # stored as a JSON string: longer
        parts[i] = [value[k : k + PART_CHARS] for k in range(0, len(value), PART_CHARS)]
        inline[i] = None
    return inline, parts, sizes


def _read_column(name: str) -> str:
    if name in PARTED_COLUMNS:
        # `list_aggregate`, not `array_to_string` (a macro over it): ~0.5 ms less a point read.
        # `coalesce` with the JSON column gives JSON: no cast, which would parse the whole body.
        return f"coalesce({name}, list_aggregate({parts_column(name)}, 'string_agg', '')) AS {name}"
    return name


# `RequestLog`'s columns read from the table, each long value put back together.
READ_COLUMNS = ", ".join(_read_column(name) for name in COLUMN_NAMES)

# The same rule as `split_long`, in SQL, for loads that go through DuckDB (a restore from Parquet or
# from a backup stream): `reqlog_inline(v)` is what the column keeps, `reqlog_parts(v)` its parts,
# `reqlog_parts_bytes(a, b)` the row's `parts_bytes` for two values.
MACROS = (
    f"CREATE MACRO reqlog_inline(v) AS CASE WHEN strlen(v) > {INLINE_BYTES} THEN NULL ELSE v END",
    f"CREATE MACRO reqlog_parts(v) AS CASE WHEN strlen(v) > {INLINE_BYTES} "
    f"THEN [substring(v, i + 1, {PART_CHARS}) for i in range(0, length(v), {PART_CHARS})] END",
    f"CREATE MACRO reqlog_parts_bytes(a, b) AS nullif("
    f"CASE WHEN strlen(a) > {INLINE_BYTES} THEN strlen(a) ELSE 0 END"
    f" + CASE WHEN strlen(b) > {INLINE_BYTES} THEN strlen(b) ELSE 0 END, 0)",
)


def stored_select(source: str) -> str:
    """`SELECT` of `source`'s rows (with `RequestLog`'s columns, maybe more) as the table stores them."""
    parted = ", ".join(
        f"reqlog_inline({name}) AS {name}, reqlog_parts({name}) AS {parts_column(name)}" for name in PARTED_COLUMNS
    )
    size = f"reqlog_parts_bytes({', '.join(PARTED_COLUMNS)}) AS {PARTS_BYTES}"
    return f"SELECT * EXCLUDE ({', '.join(PARTED_COLUMNS)}), {parted}, {size} FROM {source}"


def migration(table: str, span_key: str) -> tuple[str, ...]:
    """Schema version 3: `table` becomes `request_log_rows`, with parts, and `table` the view over it."""
    return (
        f"ALTER TABLE {table} RENAME TO {ROWS_TABLE}",
        *(f"ALTER TABLE {ROWS_TABLE} ADD COLUMN {parts_column(name)} VARCHAR[]" for name in PARTED_COLUMNS),
        f"ALTER TABLE {ROWS_TABLE} ADD COLUMN {PARTS_BYTES} BIGINT",
        f"CREATE VIEW {table} AS SELECT {READ_COLUMNS}, {span_key} FROM {ROWS_TABLE}",
        *MACROS,
    )
