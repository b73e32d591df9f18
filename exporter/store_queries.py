"""The DuckDB store's statements over `request_logs`: the batch inserts and the paged reads.

Kept apart from `store.RequestLogStore`, which owns the connection, the cursors and the
transactions: these are the SQL texts, derived from `RequestLog`'s columns so each is named once,
and the reads as functions of a cursor.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import duckdb

from . import store_unreadable
from .log_filter import LogFilter
from .row import COLUMN_NAMES, iter_columns
from .schema import SPAN_KEY, SPAN_KEY_SQL, TABLE
from .value_parts import PARTS_BYTES, READ_COLUMNS, ROWS_TABLE, stored_columns

ASSIGNED_ON_INSERT = ("id", "created_at", "updated_at")
INSERTED_COLUMNS = tuple(name for name in COLUMN_NAMES if name not in ASSIGNED_ON_INSERT)
RETURNING = f" RETURNING {READ_COLUMNS}"
SELECT_COLUMNS = ", ".join(COLUMN_NAMES)
# A row's size as the API renders it, roughly: its text and JSON plus ~300 bytes of the rest. Read
# before the rows themselves, so a page or a cache warm-up can stop at a byte budget.
ROW_BYTES_SQL = "300 + " + " + ".join(
    f"coalesce(strlen({name}::VARCHAR), 0)" for name, sql_type, _ in iter_columns() if sql_type in ("VARCHAR", "JSON")
)


def _insert_statements(key_sql: str) -> tuple[str, str]:
    """The plain insert of `_reqlog_batch`, and the one that skips spans already stored.

    Checking every row against the index with ON CONFLICT costs about twice the insert itself
    (bench/exporter.py), and duplicates only come from client retries. So a batch is first inserted
    plainly; only when that hits the constraint is it inserted again, skipping the spans already
    stored. A different span whose ids hash alike (about once in 10^12 pairs at 10M rows) is no
    duplicate: it is stored with a NULL key, so without deduplication, rather than dropped.
    Only the span key's conflicts are skipped: an id clash is an error, never a silent skip.
    """
    into = (
        f"INSERT INTO {ROWS_TABLE} ({', '.join(stored_columns(INSERTED_COLUMNS))}, created_at, updated_at, {SPAN_KEY}) "
    )
    columns = ", ".join(stored_columns(INSERTED_COLUMNS))
    plain = into + f"SELECT {columns}, $now, $now, {key_sql} FROM _reqlog_batch"
    skipping = (
        into + f"SELECT {columns}, $now, $now, "
        f"CASE WHEN EXISTS (SELECT 1 FROM {ROWS_TABLE} r WHERE r.{SPAN_KEY} = b.k "
        "AND (r.trace_id <> b.trace_id OR r.span_id <> b.span_id)) THEN NULL ELSE b.k END "
        f"FROM (SELECT *, {key_sql} AS k FROM _reqlog_batch) b ON CONFLICT ({SPAN_KEY}) DO NOTHING"
    )
    return plain, skipping


INSERT_HEAD, INSERT_SKIPPING_STORED = _insert_statements(SPAN_KEY_SQL)


def get_values(
    cursor: duckdb.DuckDBPyConnection, request_id: int, parts_table: str | None = None
) -> tuple[Any, ...] | None:
    """The row's values in column order, or `None` when no row has that id. `parts_table`: see `list_page`."""
    if parts_table is not None:
        # The table without its parts columns first: through the view, whose expressions join
        # parts, a point read costs ~0.4 ms more, and few rows have parts.
        try:
            found = cursor.execute(f"SELECT {_INLINE_COLUMNS} FROM {parts_table} WHERE id = ?", [request_id]).fetchall()
        except duckdb.OutOfMemoryException:
            found = None
        if found is not None:
            return next(_whole(cursor, found), None)
    # fetchall, not fetchone: DuckDB 2 keeps a partly fetched result open on the cursor and
    # refuses the cursor's next statement until it is consumed.
    try:
        found = cursor.execute(f"SELECT {SELECT_COLUMNS} FROM {TABLE} WHERE id = ?", [request_id]).fetchall()
    except duckdb.OutOfMemoryException:
        return store_unreadable.read_row(cursor, request_id)  # its long values a column at a time
    return found[0] if found else None


def get_many_values(
    cursor: duckdb.DuckDBPyConnection, request_ids: Sequence[int], parts_table: str | None = None
) -> dict[int, tuple[Any, ...]]:
    """Rows by id, as values in column order; ids with no row are absent from the answer.

    One query for several ids costs far less per row than one query each (measured at 1M rows:
    ~0.6 ms a row for 8 ids against ~1.4 ms alone), because a point query's fixed cost is
    planning and setting up a scan of every column. `parts_table`: see `list_page`.
    """
    if len(request_ids) == 1:
        values = get_values(cursor, request_ids[0], parts_table)
        return {} if values is None else {values[0]: values}
    marks = ", ".join("?" for _ in request_ids)
    try:
        if parts_table is None:
            found = cursor.execute(f"SELECT {SELECT_COLUMNS} FROM {TABLE} WHERE id IN ({marks})", list(request_ids))
            return {values[0]: values for values in found.fetchall()}
        sql = f"SELECT {_INLINE_COLUMNS} FROM {parts_table} WHERE id IN ({marks})"
        return {values[0]: values for values in _whole(cursor, cursor.execute(sql, list(request_ids)).fetchall())}
    except duckdb.OutOfMemoryException:
        pass
    rows = (get_values(cursor, request_id, parts_table) for request_id in request_ids)  # one at a time
    return {values[0]: values for values in rows if values is not None}


# A row of the table with parts as `RequestLog`'s values, and whether some are in parts instead.
# Reading the parts column of several rows would read their neighbours' parts too (a list column is
# scanned a vector of rows at a time), so only the flag is read; such a row is read again alone.
_INLINE_COLUMNS = f"{SELECT_COLUMNS}, {PARTS_BYTES} IS NOT NULL"


def _whole(cursor: duckdb.DuckDBPyConnection, rows: Iterable[tuple[Any, ...]]) -> Iterator[tuple[Any, ...]]:
    """`rows` read with `_INLINE_COLUMNS`, each complete: a row with parts is read again by its id."""
    for values in rows:
        if not values[-1]:
            yield values[:-1]
            continue
        whole = get_values(cursor, values[0])
        if whole is not None:
            yield whole


def list_page(
    cursor: duckdb.DuckDBPyConnection,
    log_filter: LogFilter | None,
    *,
    before_id: int | None,
    after_id: int | None,
    limit: int,
    max_bytes: int | None,
    at_least_id: int | None = None,
    parts_table: str | None = None,
) -> tuple[list[tuple[Any, ...]], bool]:
    """`RequestLogStore.list_page` through `cursor`; `at_least_id` only narrows the search (the
    order stays): the lake's newest-first windows (`exporter.lake.store`). `parts_table` is the
    table behind `request_logs` when long values are kept in parts there (`value_parts`): the page
    is then read from it, sizes and all, and a row with parts is read alone."""
    where, params, order = _page_where(log_filter, before_id, after_id, at_least_id)
    # Pick the page's ids first, reading only the filtered columns, then fetch the wide rows by
    # id: a full-row top-N would read every JSON column of every candidate row.
    ids_sql = f"SELECT id FROM {TABLE}{where} ORDER BY id {order} LIMIT ?"
    ids = [row[0] for row in cursor.execute(ids_sql, [*params, limit]).fetchall()]
    cut = False
    if max_bytes is not None and ids:
        # The sizes of those rows only (a size over every candidate would read all their text).
        total, kept = 0, list[int]()
        sizes = f"id, {ROW_BYTES_SQL}" if parts_table is None else f"id, {ROW_BYTES_SQL} + coalesce({PARTS_BYTES}, 0)"
        for request_id, nbytes in _by_ids(cursor, sizes, ids, order, table=parts_table or TABLE):
            if kept and total + nbytes > max_bytes:
                cut = True
                break
            total += nbytes
            kept.append(request_id)
        ids = kept
    if not ids:
        return [], cut
    if parts_table is None:
        return list(_by_ids(cursor, SELECT_COLUMNS, ids, order)), cut
    return list(_whole(cursor, _by_ids(cursor, _INLINE_COLUMNS, ids, order, table=parts_table))), cut


def _by_ids(
    cursor: duckdb.DuckDBPyConnection, columns: str, ids: list[int], order: str, table: str = TABLE
) -> Iterator[tuple[Any, ...]]:
    """`columns` of the rows `ids` (existing ones, in `ids`' order, which is sorted by `order`).

    One query, unless DuckDB refuses its memory: it then decompresses whole segments of long text
    (700 rows of 2 MB made it ask 2 GiB against a 1 GB limit, and `reqlog serve` could not start,
    tests/hostile/test_startup_budget.py), while a query for one id reads that row only. So the
    rows then come one at a time, as the caller asks for them: a size pass stops at its budget. A
    row DuckDB refuses even alone comes with notes in place of what it refuses (`store_unreadable`).
    `columns` is `SELECT_COLUMNS` or `_INLINE_COLUMNS` (a row pass), or a size pass's `id, <bytes>`.
    """
    sql = f"SELECT {columns} FROM {table} WHERE id BETWEEN ? AND ? AND list_contains(?, id) ORDER BY id {order}"
    try:
        yield from cursor.execute(sql, [min(ids), max(ids), ids]).fetchall()
        return
    except duckdb.OutOfMemoryException:
        pass
    row_pass = columns in (SELECT_COLUMNS, _INLINE_COLUMNS)
    for request_id in ids:
        # fetchall, not fetchone: a partly fetched result would block the cursor's next statement.
        try:
            found = cursor.execute(f"SELECT {columns} FROM {table} WHERE id = ?", [request_id]).fetchall()
        except duckdb.OutOfMemoryException:
            if not row_pass:
                # A size pass: a row refused even alone ends the page (after it, when it is the
                # first), so a page reads at most one such row the slow way below.
                yield request_id, REFUSED_BYTES
                continue
            # Even this one row is refused: read what can be read (`store_unreadable`).
            row = store_unreadable.read_row(cursor, request_id)
            if row is not None:
                yield row if columns == SELECT_COLUMNS else (*row, False)
            continue
        if found:
            yield found[0]


REFUSED_BYTES = 1 << 62  # the size of a row DuckDB refuses to read: past every page budget

# What a list of requests shows at a glance (the viewer's list): the narrow columns only.
SUMMARY_COLUMNS: tuple[str, ...] = (
    "id", "started_at", "method", "endpoint", "route", "status_code", "duration", "user_id", "username",
    "ip", "device", "device_type", "browser", "os", "is_bot", "exception_type",
)  # fmt: skip


def list_summaries(
    cursor: duckdb.DuckDBPyConnection,
    log_filter: LogFilter | None,
    *,
    before_id: int | None,
    after_id: int | None,
    limit: int,
) -> list[tuple[Any, ...]]:
    """`RequestLogStore.list_summaries` through `cursor`: `list_page`'s order and paging, narrow columns.

    Without the JSON and text columns a page is one top-N: at 1M rows ~5-20 ms whatever the filter,
    where fetching the full rows of a sparse filter's page costs ~200 ms (the wide columns' zstd
    blocks around each row are decompressed; docs/design-notes.md).
    """
    where, params, order = _page_where(log_filter, before_id, after_id)
    if log_filter is not None and log_filter.trace_id is not None:
        # A trace's few requests: the scan cannot stop early, and reading the summary columns of
        # every row group it scans costs ~3x picking the ids first and then their columns by id.
        return _summaries_by_id(cursor, where, params, order, limit)
    sql = f"SELECT {', '.join(SUMMARY_COLUMNS)} FROM {TABLE}{where} ORDER BY id {order} LIMIT ?"
    return cursor.execute(sql, [*params, limit]).fetchall()


def _summaries_by_id(
    cursor: duckdb.DuckDBPyConnection, where: str, params: list[Any], order: str, limit: int
) -> list[tuple[Any, ...]]:
    ids_sql = f"SELECT id FROM {TABLE}{where} ORDER BY id {order} LIMIT ?"
    ids = [row[0] for row in cursor.execute(ids_sql, [*params, limit]).fetchall()]
    return list(_by_ids(cursor, ", ".join(SUMMARY_COLUMNS), ids, order)) if ids else []


def count(cursor: duckdb.DuckDBPyConnection) -> int:
    return int(cursor.execute(f"SELECT count(*) FROM {TABLE}").fetchall()[0][0])


def _page_where(
    log_filter: LogFilter | None, before_id: int | None, after_id: int | None, at_least_id: int | None = None
) -> tuple[str, list[Any], str]:
    """A page's WHERE clause, its parameters, and its id order (ascending only for `after_id` alone)."""
    clauses, params = (log_filter or LogFilter()).sql()
    for bound, op in ((before_id, "<"), (after_id, ">"), (at_least_id, ">=")):
        if bound is not None:
            clauses.append(f"id {op} ?")
            params.append(bound)
    where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
    return where, params, "ASC" if after_id is not None and before_id is None else "DESC"
