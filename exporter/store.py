"""The DuckDB store: migrating, batched writes and reads (the table itself is in `schema`).

One `RequestLogStore` owns one DuckDB database file (DuckDB lets a single process hold a file
read-write). Each thread works through its own cursor. Writes come in batches, one transaction
per batch, through an Arrow table: DuckDB's commit costs milliseconds and `executemany` goes row
by row, so batching is what makes ingest fast (docs/design-notes.md, and `bench/exporter.py`).
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from .errors import StorageError
from .log_filter import LogFilter
from .row import COLUMN_NAMES, RequestLog, iter_columns, row_values
from .schema import MIGRATIONS, SCHEMA_VERSION, SEQUENCE, SPAN_KEY, SPAN_KEY_SQL, TABLE

logger = logging.getLogger(__name__)
_ASSIGNED_ON_INSERT = ("id", "created_at", "updated_at")
_INSERTED_COLUMNS = tuple(name for name in COLUMN_NAMES if name not in _ASSIGNED_ON_INSERT)
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
_COLUMN_TYPES = {name: sql_type for name, sql_type, _ in iter_columns()}
_INSERTED_INDEXES = tuple(COLUMN_NAMES.index(name) for name in _INSERTED_COLUMNS)
_ARROW_SCHEMA = pa.schema([(name, _ARROW_TYPES[_COLUMN_TYPES[name]]) for name in _INSERTED_COLUMNS])


_RETURNING = f" RETURNING {', '.join(COLUMN_NAMES)}"


def _insert_statements(key_sql: str) -> tuple[str, str]:
    """The plain insert of `_reqlog_batch`, and the one that skips spans already stored.

    Checking every row against the index with ON CONFLICT costs about twice the insert itself
    (bench/exporter.py), and duplicates only come from client retries. So a batch is first inserted
    plainly; only when that hits the constraint is it inserted again, skipping the spans already
    stored. A different span whose ids hash alike (about once in 10^12 pairs at 10M rows) is no
    duplicate: it is stored with a NULL key, so without deduplication, rather than dropped.
    Only the span key's conflicts are skipped: an id clash is an error, never a silent skip.
    """
    into = f"INSERT INTO {TABLE} ({', '.join(_INSERTED_COLUMNS)}, created_at, updated_at, {SPAN_KEY}) "
    columns = ", ".join(_INSERTED_COLUMNS)
    plain = into + f"SELECT {columns}, $now, $now, {key_sql} FROM _reqlog_batch"
    skipping = (
        into + f"SELECT {columns}, $now, $now, "
        f"CASE WHEN EXISTS (SELECT 1 FROM {TABLE} r WHERE r.{SPAN_KEY} = b.k "
        "AND (r.trace_id <> b.trace_id OR r.span_id <> b.span_id)) THEN NULL ELSE b.k END "
        f"FROM (SELECT *, {key_sql} AS k FROM _reqlog_batch) b ON CONFLICT ({SPAN_KEY}) DO NOTHING"
    )
    return plain, skipping


_INSERT_HEAD, _INSERT_SKIPPING_STORED = _insert_statements(SPAN_KEY_SQL)
_SELECT_COLUMNS = ", ".join(COLUMN_NAMES)
# A row's size as the API renders it, roughly: its text and JSON plus ~300 bytes of the rest. Read
# before the rows themselves, so a page or a cache warm-up can stop at a byte budget.
_ROW_BYTES_SQL = "300 + " + " + ".join(
    f"coalesce(strlen({name}::VARCHAR), 0)" for name, sql_type, _ in iter_columns() if sql_type in ("VARCHAR", "JSON")
)

# How the reqlog service opens its database: analyst SQL runs in the same DuckDB instance, and
# these settings hold for the whole instance and cannot be turned back on (docs/design-notes.md), so no query
# can read or write files or URLs, or load extensions. The service writes Parquet exports with
# pyarrow, not DuckDB's COPY, for that reason.
SERVICE_DUCKDB_CONFIG: dict[str, Any] = {
    "enable_external_access": False,
    "autoload_known_extensions": False,
    "autoinstall_known_extensions": False,
    "allow_community_extensions": False,
    "lock_configuration": True,
}


class RequestLogStore:
    """Open (creating or migrating) the request-log database at `path`.

    Raises `StorageError` when the file cannot be opened (for example, another process holds it)
    or was written by a newer release.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        memory_limit: str = "1GB",
        checkpoint_threshold: str = "256MB",
        config: dict[str, Any] | None = None,
    ) -> None:
        self.path = Path(path)
        self._local = threading.local()
        self._closed = False
        if str(path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._settings: dict[str, Any] = {"memory_limit": memory_limit, "checkpoint_threshold": checkpoint_threshold}
        self._settings.update(config or {})
        self._cursors: list[duckdb.DuckDBPyConnection] = []
        self._cursors_lock = threading.Lock()
        self._generation = 0  # bumped by `reopen`: a thread's cursor of an older connection is replaced
        self.reopens = 0  # times the file was reopened after DuckDB invalidated the database
        self.last_reopen: tuple[datetime, str] | None = None  # (when, DuckDB's error) of the last one
        self._con = self._connect()
        self._migrate()
        self.sync_sequence()

    def _connect(self) -> duckdb.DuckDBPyConnection:
        try:
            return duckdb.connect(str(self.path), config=self._settings)
        except duckdb.Error as exc:
            raise StorageError(f"cannot open {self.path}: {exc}") from exc

    # -- schema -----------------------------------------------------------------------------

    def _migrate(self) -> None:
        con = self._con
        con.execute("CREATE TABLE IF NOT EXISTS reqlog_migrations (version INTEGER PRIMARY KEY, applied_at TIMESTAMP)")
        current = con.execute("SELECT max(version) FROM reqlog_migrations").fetchall()[0][0] or 0
        if current > SCHEMA_VERSION:
            raise StorageError(f"{self.path} has schema version {current}; this release knows up to {SCHEMA_VERSION}")
        for version, statements in MIGRATIONS:
            if version <= current:
                continue
            con.execute("BEGIN TRANSACTION")
            try:
                for statement in statements:
                    con.execute(statement)
                con.execute("INSERT INTO reqlog_migrations VALUES (?, ?)", [version, _utcnow()])
                con.execute("COMMIT")
            except duckdb.Error as exc:
                con.execute("ROLLBACK")
                raise StorageError(f"migration {version} failed: {exc}") from exc

    def sync_sequence(self) -> int:
        """Move the id sequence past the largest stored id; return the next id it will give.

        A file restored from a Parquet export, or given rows by hand, holds ids the sequence has
        not reached: without this every insert would clash with them. Called on open, and again
        by an insert that hits an id clash.
        """
        cursor = self.cursor()
        (max_id,) = cursor.execute(f"SELECT max(id) FROM {TABLE}").fetchall()[0]
        (last,) = cursor.execute(
            "SELECT last_value FROM duckdb_sequences() WHERE sequence_name = ?", [SEQUENCE]
        ).fetchall()[0]
        if max_id is not None and (last is None or max_id > last):
            cursor.execute("SELECT setval(?, ?)", [SEQUENCE, max_id]).fetchall()
            return int(max_id) + 1
        return (last or 0) + 1

    def schema_version(self) -> int:
        return int(self.cursor().execute("SELECT max(version) FROM reqlog_migrations").fetchall()[0][0] or 0)

    # -- connections ------------------------------------------------------------------------

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """This thread's cursor (DuckDB connections are not safe to share between threads)."""
        cursor = getattr(self._local, "cursor", None)
        if cursor is None or self._local.generation != self._generation:
            if self._closed:
                raise StorageError("the store is closed")
            cursor = self._con.cursor()
            self._local.cursor = cursor
            self._local.generation = self._generation
            with self._cursors_lock:
                self._cursors.append(cursor)
        return cursor

    def close(self) -> None:
        """Close every cursor and the database (idempotent)."""
        if self._closed:
            return
        self._closed = True
        with self._cursors_lock:
            for cursor in self._cursors:
                cursor.close()
            self._cursors.clear()
        self._con.close()

    def reopen(self, reason: str) -> None:
        """Close the database and open the file again (DuckDB replays its WAL); raises `StorageError`.

        After DuckDB invalidates a database (a checkpoint that could not get memory, for one),
        every statement fails until the file is opened again; committed rows are in the WAL.
        """
        logger.error("the database %s was invalidated; reopening it. DuckDB said: %s", self.path, reason)
        with self._cursors_lock:
            for cursor in self._cursors:
                with contextlib.suppress(duckdb.Error):
                    cursor.close()
            self._cursors.clear()
            with contextlib.suppress(duckdb.Error):
                self._con.close()
            self._generation += 1
            self.reopens += 1
            self.last_reopen = (_utcnow(), reason.splitlines()[0][:500] if reason else "")
            self._con = self._connect()
        logger.warning("the database %s was reopened (%d rows)", self.path, self.count())

    # -- writes -----------------------------------------------------------------------------

    def insert_rows(self, rows: Sequence[RequestLog], *, returning: bool = True) -> list[tuple[Any, ...]]:
        """Insert a batch in one transaction; return the stored rows' values in column order.

        The returned tuples carry the assigned `id`, `created_at` and `updated_at`, so a caller
        can render or cache what was stored without reading it back (`row.render_json`).

        A row whose (trace_id, span_id) is already stored, or repeated in the batch, is skipped.
        With `returning=False` nothing is returned (and the insert is ~10% cheaper).
        Raises `StorageError` when the write fails (nothing of the batch is stored then).
        """
        return self.insert_values([row_values(row) for row in rows], returning=returning)

    def insert_values(self, rows: Sequence[tuple[Any, ...]], *, returning: bool = True) -> list[tuple[Any, ...]]:
        """`insert_rows` for rows given as value tuples in column order (`flatten.span_values`)."""
        if not rows:
            return []
        try:
            table = values_to_arrow(unique_spans(rows))
        except (pa.ArrowException, OverflowError, TypeError, ValueError) as exc:
            raise StorageError(f"batch of {len(rows)} rows does not fit the schema: {exc}") from exc
        return self.insert_arrow(table, returning=returning)

    def insert_values_counted(self, rows: Sequence[tuple[Any, ...]]) -> int:
        """`insert_values` without RETURNING; the number of rows the file gained."""
        if not rows:
            return 0
        try:
            table = values_to_arrow(unique_spans(rows))
        except (pa.ArrowException, OverflowError, TypeError, ValueError) as exc:
            raise StorageError(f"batch of {len(rows)} rows does not fit the schema: {exc}") from exc
        return self.insert_table(table, returning=False)[0]

    def insert_arrow(self, table: pa.Table, *, returning: bool = True) -> list[tuple[Any, ...]]:
        """Insert an Arrow table with the columns of `rows_to_arrow`; see `insert_rows`."""
        return self.insert_table(table, returning=returning)[1]

    def insert_table(self, table: pa.Table, *, returning: bool = True) -> tuple[int, list[tuple[Any, ...]]]:
        """`insert_arrow`, also giving how many rows the file gained (spans already stored are not).

        Raises `StorageError` when nothing could be stored: every failure is loud, and a caller
        that counts "written" counts this number, so the count is what the file holds.
        """
        try:
            stored = self._insert(table, returning)
        except duckdb.Error as exc:
            if not invalidated(exc):
                raise StorageError(f"insert of {table.num_rows} rows failed: {exc}") from exc
            # Reopen and write once more: rows of the failed try that did commit are in the WAL,
            # and the retry skips them as spans already stored.
            self.reopen(str(exc))
            try:
                stored = self._insert(table, returning)
            except duckdb.Error as again:
                raise StorageError(f"insert of {table.num_rows} rows failed after reopening: {again}") from again
        if not returning:
            return (int(stored[0][0]) if stored else 0), []
        stored.sort(key=lambda values: values[0])  # RETURNING comes in no particular order
        return len(stored), stored

    def _insert(self, table: pa.Table, returning: bool) -> list[tuple[Any, ...]]:
        cursor = self.cursor()
        tail = _RETURNING if returning else ""
        cursor.register("_reqlog_batch", table)
        try:
            try:
                return self._insert_once(cursor, _INSERT_HEAD + tail)
            except duckdb.ConstraintException:
                try:
                    return self._insert_once(cursor, _INSERT_SKIPPING_STORED + tail)
                except duckdb.ConstraintException:
                    # Not a span already stored but an id clash: rows with ids the sequence has
                    # not reached came in meanwhile. Move the sequence and try once more.
                    self.sync_sequence()
                    return self._insert_once(cursor, _INSERT_SKIPPING_STORED + tail)
        finally:
            with contextlib.suppress(duckdb.Error):
                cursor.unregister("_reqlog_batch")

    @staticmethod
    def _insert_once(cursor: duckdb.DuckDBPyConnection, sql: str) -> list[tuple[Any, ...]]:
        cursor.execute("BEGIN TRANSACTION")
        try:
            stored = cursor.execute(sql, {"now": _utcnow()}).fetchall()
            cursor.execute("COMMIT")
        except BaseException:
            cursor.execute("ROLLBACK")
            raise
        return stored

    # -- reads ------------------------------------------------------------------------------

    def get_values(self, request_id: int) -> tuple[Any, ...] | None:
        """The row's values in column order, or `None` when no row has that id."""
        # fetchall, not fetchone: DuckDB 2 keeps a partly fetched result open on the cursor and
        # refuses the cursor's next statement until it is consumed.
        found = self.cursor().execute(f"SELECT {_SELECT_COLUMNS} FROM {TABLE} WHERE id = ?", [request_id]).fetchall()
        return found[0] if found else None

    def get_many_values(self, request_ids: Sequence[int]) -> dict[int, tuple[Any, ...]]:
        """Rows by id, as values in column order; ids with no row are absent from the answer.

        One query for several ids costs far less per row than one query each (measured at 1M rows:
        ~0.6 ms a row for 8 ids against ~1.4 ms alone), because a point query's fixed cost is
        planning and setting up a scan of every column.
        """
        if len(request_ids) == 1:
            values = self.get_values(request_ids[0])
            return {} if values is None else {values[0]: values}
        marks = ", ".join("?" for _ in request_ids)
        found = self.cursor().execute(f"SELECT {_SELECT_COLUMNS} FROM {TABLE} WHERE id IN ({marks})", list(request_ids))
        return {values[0]: values for values in found.fetchall()}

    def get_row(self, request_id: int) -> RequestLog | None:
        """The row with id `request_id`, or `None`."""
        values = self.get_values(request_id)
        return None if values is None else RequestLog(*values)

    def count(self) -> int:
        return int(self.cursor().execute(f"SELECT count(*) FROM {TABLE}").fetchall()[0][0])

    def list_values(
        self,
        log_filter: LogFilter | None = None,
        *,
        before_id: int | None = None,
        after_id: int | None = None,
        limit: int = 50,
    ) -> list[tuple[Any, ...]]:
        """Rows matching `log_filter` as value tuples, at most `limit`, for cursor pagination.

        Newest (highest id) first, below `before_id` when given. With `after_id` (and no
        `before_id`), the rows just above it, oldest first: a page walked backwards.
        """
        return self.list_page(log_filter, before_id=before_id, after_id=after_id, limit=limit)[0]

    def list_page(
        self,
        log_filter: LogFilter | None = None,
        *,
        before_id: int | None = None,
        after_id: int | None = None,
        limit: int = 50,
        max_bytes: int | None = None,
    ) -> tuple[list[tuple[Any, ...]], bool]:
        """`list_values`, stopping once the rows pass `max_bytes` (rendered size, estimated first).

        Returns the rows and whether the budget cut the page short. The first row is always
        returned, however large, so a walk over the rows always moves on.
        """
        clauses, params = (log_filter or LogFilter()).sql()
        if before_id is not None:
            clauses.append("id < ?")
            params.append(before_id)
        if after_id is not None:
            clauses.append("id > ?")
            params.append(after_id)
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        order = "ASC" if after_id is not None and before_id is None else "DESC"
        # Pick the page's ids first, reading only the filtered columns, then fetch the wide rows by
        # id: a full-row top-N would read every JSON column of every candidate row.
        cursor = self.cursor()
        ids_sql = f"SELECT id FROM {TABLE}{where} ORDER BY id {order} LIMIT ?"
        ids = [row[0] for row in cursor.execute(ids_sql, [*params, limit]).fetchall()]
        cut = False
        if max_bytes is not None and ids:
            # The sizes of those rows only (a size over every candidate would read all their text).
            sizes = dict(
                cursor.execute(
                    f"SELECT id, {_ROW_BYTES_SQL} FROM {TABLE} WHERE id BETWEEN ? AND ? AND list_contains(?, id)",
                    [min(ids), max(ids), ids],
                ).fetchall()
            )
            total, kept = 0, 0
            for request_id in ids:
                nbytes = sizes.get(request_id, 0)
                if kept and total + nbytes > max_bytes:
                    cut = True
                    break
                total += nbytes
                kept += 1
            ids = ids[:kept]
        if not ids:
            return [], cut
        rows = cursor.execute(
            f"SELECT {_SELECT_COLUMNS} FROM {TABLE} WHERE id BETWEEN ? AND ? AND list_contains(?, id) "
            f"ORDER BY id {order}",
            [min(ids), max(ids), ids],
        ).fetchall()
        return rows, cut

    def list_summaries(
        self,
        log_filter: LogFilter | None = None,
        *,
        before_id: int | None = None,
        after_id: int | None = None,
        limit: int = 50,
    ) -> list[tuple[Any, ...]]:
        """`list_values` (same order and paging) of the `SUMMARY_COLUMNS` only.

        Without the JSON and text columns a page is one top-N over narrow columns: at 1M rows ~5-20 ms
        whatever the filter, where fetching the full rows of a sparse filter's page costs ~200 ms
        (decompressing the wide columns' blocks around each row; bench/ui.py).
        """
        clauses, params = (log_filter or LogFilter()).sql()
        if before_id is not None:
            clauses.append("id < ?")
            params.append(before_id)
        if after_id is not None:
            clauses.append("id > ?")
            params.append(after_id)
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        order = "ASC" if after_id is not None and before_id is None else "DESC"
        sql = f"SELECT {', '.join(SUMMARY_COLUMNS)} FROM {TABLE}{where} ORDER BY id {order} LIMIT ?"
        return self.cursor().execute(sql, [*params, limit]).fetchall()


# What a list of requests shows at a glance (the viewer's list): the narrow columns only.
SUMMARY_COLUMNS: tuple[str, ...] = (
    "id", "started_at", "method", "endpoint", "route", "status_code", "duration", "user_id", "username",
    "ip", "device", "device_type", "browser", "os", "is_bot", "exception_type",
)  # fmt: skip


def rows_to_arrow(rows: Iterable[RequestLog]) -> pa.Table:
    """Rows as an Arrow table of the inserted columns (id and insert times are the store's)."""
    return values_to_arrow([row_values(row) for row in rows])


def values_to_arrow(rows: Sequence[tuple[Any, ...]]) -> pa.Table:
    """Value tuples (column order) as an Arrow table of the inserted columns."""
    columns = list(zip(*rows, strict=True))
    if not columns:
        return _ARROW_SCHEMA.empty_table()
    arrays = [pa.array(columns[i], type=field.type) for i, field in zip(_INSERTED_INDEXES, _ARROW_SCHEMA, strict=True)]
    return pa.Table.from_arrays(arrays, schema=_ARROW_SCHEMA)


_TRACE_ID, _SPAN_ID = COLUMN_NAMES.index("trace_id"), COLUMN_NAMES.index("span_id")


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


def invalidated(exc: BaseException) -> bool:
    """Whether `exc` says DuckDB invalidated the database (only reopening the file helps then)."""
    return isinstance(exc, duckdb.FatalException) or "database has been invalidated" in str(exc)


def _utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)
