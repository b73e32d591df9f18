"""`LakeStore`: the request-log store on a DuckLake, for a writer, a query node or a maintenance node.

It is a `RequestLogStore` whose database is a DuckLake attached as the default catalog, so every
read (retrieve, list, stats, analyst SQL, export) runs the single file's SQL unchanged and answers
with the same JSON. What differs is below: the attach, the schema, ids from the PostgreSQL counter
(`ids`), spans stored once without a UNIQUE index (`SpanMemory`), and the cap of list answers under
ranges still in flight.
"""

from __future__ import annotations

import contextlib
import logging
import random
import threading
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import psycopg
import pyarrow as pa

from .. import store_queries
from ..errors import StorageError
from ..log_filter import LogFilter
from ..row import COLUMN_NAMES
from ..schema import SPAN_KEY, SPAN_KEY_SQL, TABLE
from ..store import RequestLogStore
from ..store_connection import utcnow
from . import ids
from .config import LakeConfig
from .connect import LAKE, open_lake
from .lookup import FileIndex
from .parquet_rows import ROW_GROUP_ROWS
from .schema import LAKE_SCHEMA_VERSION, MIGRATION
from .span_memory import SpanMemory, not_stored, recall

logger = logging.getLogger(__name__)
_MIGRATION_LOCK = 0x7265716C6F67_01  # pg_advisory_lock key: one node migrates at a time
_STORED = [name for name in COLUMN_NAMES if name not in ("created_at", "updated_at")]
_INSERT = (
    f"INSERT INTO {TABLE} ({', '.join(COLUMN_NAMES)}, {SPAN_KEY}) SELECT "
    + ", ".join("$now" if name in ("created_at", "updated_at") else name for name in COLUMN_NAMES)
    + ", k FROM _reqlog_batch"
)
_RETURNED = "SELECT " + ", ".join("$now" if n in ("created_at", "updated_at") else n for n in COLUMN_NAMES)
# A commit that conflicts with another writer's or the maintenance pass's is tried again for this
# long (well inside the id range's lease), backing off up to half a second: under load a merge of
# files can conflict several times in a row, and a failed commit costs the client a retry.
_COMMIT_RETRY_SECONDS = 10.0
_MAX_BACKOFF_SECONDS = 0.5
# A newest-first page looks at ids in [before - width, before), width starting at 64 ids per row
# asked for and growing 16-fold while the page is not full (a sparse filter), up to the whole table.
_FIRST_WINDOW_ROWS_PER_ROW = 64
_WINDOW_GROWTH = 16


class LakeStore(RequestLogStore):
    """Attach the lake in `config`; `read_only` for query nodes (their catalog role may only SELECT)."""

    parts_table = None  # the lake's table keeps every value whole (`value_parts` is the file's layout)

    def __init__(
        self, config: LakeConfig, *, read_only: bool = False, memory_limit: str = "1GB", lockdown: bool = True
    ) -> None:
        self.config = config
        self.read_only = read_only
        self.path = Path(config.data)  # named in the base class's messages
        self._memory_limit = memory_limit
        self._lockdown = lockdown
        self._local = threading.local()
        self._closed = False
        self._cursors: list[duckdb.DuckDBPyConnection] = []
        self._cursors_lock = threading.Lock()
        self._generation = 0
        self.reopens = 0
        self.last_reopen: tuple[datetime, str] | None = None
        self.spans = SpanMemory(0 if read_only else config.span_memory)
        self.skipped_duplicates = 0  # spans refused as already stored (the writer's memory caught them)
        self._pg_lock = threading.Lock()
        try:
            self._pg = psycopg.connect(config.catalog, autocommit=True)
        except psycopg.Error as exc:
            raise StorageError(f"cannot reach the lake's catalog: {exc}") from exc
        # Lookups by id read their Parquet file directly on a local data path (`lookup`).
        self.files = None if "://" in config.data else FileIndex(self._pg, self._pg_lock, config.data)
        try:
            self._con = self._connect()
        except BaseException:
            self._pg.close()
            raise
        if not read_only:
            try:
                self._migrate()
                self.sync_sequence()
                self._recall_spans()
            except BaseException:
                self.close()
                raise

    def _connect(self) -> duckdb.DuckDBPyConnection:
        return open_lake(
            self.config, read_only=self.read_only, memory_limit=self._memory_limit, lockdown=self._lockdown
        )

    def cursor(self) -> duckdb.DuckDBPyConnection:
        fresh = (
            getattr(self._local, "generation", None) != self._generation or getattr(self._local, "cursor", None) is None
        )
        cursor = super().cursor()
        if fresh:
            cursor.execute(f"USE {LAKE}")  # a cursor starts on the in-memory database
        return cursor

    def close(self) -> None:
        if self._closed:
            return
        super().close()
        with self._pg_lock:
            self._pg.close()

    # -- schema, counter, memory ------------------------------------------------------------

    def _migrate(self) -> None:
        with self._pg_lock:
            ids.setup(self._pg)
            self._pg.execute("SELECT pg_advisory_lock(%s)", [_MIGRATION_LOCK])
        try:
            con = self._con
            # Small row groups: a lookup by id reads ~2 MB of one row group (`lookup`), not a whole file.
            with self._pg_lock:
                row_groups = self._pg.execute(
                    "SELECT value FROM ducklake_metadata WHERE key = 'parquet_row_group_size' AND scope IS NULL"
                ).fetchone()
            if row_groups != (str(ROW_GROUP_ROWS),):  # set once: the option is a commit to the catalog
                con.execute(f"CALL {LAKE}.set_option('parquet_row_group_size', {ROW_GROUP_ROWS})")
            con.execute("CREATE TABLE IF NOT EXISTS reqlog_migrations (version INTEGER, applied_at TIMESTAMP)")
            current = con.execute("SELECT max(version) FROM reqlog_migrations").fetchall()[0][0] or 0
            if current > LAKE_SCHEMA_VERSION:
                raise StorageError(f"the lake has schema version {current}; this release knows {LAKE_SCHEMA_VERSION}")
            if current < LAKE_SCHEMA_VERSION:
                con.execute("BEGIN TRANSACTION")
                for statement in MIGRATION:
                    con.execute(statement)
                con.execute("INSERT INTO reqlog_migrations VALUES (?, ?)", [LAKE_SCHEMA_VERSION, utcnow()])
                con.execute("COMMIT")
        finally:
            with self._pg_lock:
                self._pg.execute("SELECT pg_advisory_unlock(%s)", [_MIGRATION_LOCK])

    def schema_version(self) -> int:
        return int(self.cursor().execute("SELECT max(version) FROM reqlog_migrations").fetchall()[0][0] or 0)

    def sync_sequence(self) -> int:
        """Move the PostgreSQL counter past the largest stored id; return the next id it will give."""
        (max_id,) = self.cursor().execute(f"SELECT max(id) FROM {TABLE}").fetchall()[0]
        with self._pg_lock:
            if max_id is not None:
                ids.move_past(self._pg, int(max_id))
            row = self._pg.execute(f"SELECT next_id FROM {ids.COUNTER}").fetchone()
        return int(row[0]) if row else 1

    def _recall_spans(self) -> None:
        found = recall(self.cursor(), self.spans)
        logger.info("recalled %d recent span keys from the lake", found)

    # -- writes -----------------------------------------------------------------------------

    def _insert(self, table: pa.Table, returning: bool) -> list[tuple[Any, ...]]:
        if self.read_only:
            raise StorageError("this node attached the lake read-only and stores nothing")
        cursor = self.cursor()
        cursor.register("_reqlog_keys", table)
        try:
            keys = [row[0] for row in cursor.execute(f"SELECT {SPAN_KEY_SQL} FROM _reqlog_keys").fetchall()]
        finally:
            cursor.unregister("_reqlog_keys")
        keep, keys = not_stored(cursor, self.spans, table, keys)
        self.skipped_duplicates += keep.count(False)
        if len(keys) != table.num_rows:
            table = table.filter(pa.array(keep, pa.bool_()))
        count = table.num_rows
        if count == 0:
            return [(0,)] if not returning else []
        with self._pg_lock:
            try:
                first = ids.take(self._pg, count)
            except psycopg.Error as exc:
                raise StorageError(f"cannot take ids from the lake's catalog: {exc}") from exc
        taken = time.monotonic()
        batch = table.append_column("id", pa.array(range(first, first + count), pa.int64()))
        batch = batch.append_column("k", pa.array(keys, pa.uint64()))
        now = utcnow()
        cursor.register("_reqlog_batch", batch)
        try:
            self._commit(cursor, now, taken)
            stored = (
                cursor.execute(_RETURNED + " FROM _reqlog_batch ORDER BY id", {"now": now}).fetchall()
                if returning
                else []
            )
        finally:
            cursor.unregister("_reqlog_batch")
            with self._pg_lock:
                try:
                    ids.release(self._pg, first)
                except psycopg.Error:
                    logger.exception("cannot release id range %d; readers wait for it to expire", first)
        self.spans.remember(zip(keys, range(first, first + count), strict=True))
        return stored if returning else [(count,)]

    def _commit(self, cursor: duckdb.DuckDBPyConnection, now: datetime, taken: float) -> None:
        """One DuckLake transaction, tried again when another writer's commit conflicted with it."""
        give_up = time.monotonic() + _COMMIT_RETRY_SECONDS
        attempt = 0
        while True:
            if time.monotonic() - taken > ids.COMMIT_WITHIN_SECONDS:
                raise StorageError("the batch's id range expired before it could be committed; send it again")
            cursor.execute("BEGIN TRANSACTION")
            try:
                cursor.execute(_INSERT, {"now": now})
                cursor.execute("COMMIT")
                return
            except duckdb.TransactionException as exc:
                _rollback(cursor)
                attempt += 1
                if time.monotonic() >= give_up:
                    raise StorageError(
                        f"the lake refused the commit {attempt} times in {_COMMIT_RETRY_SECONDS:g} s: {exc}"
                    ) from exc
                # Jittered, so writers that conflicted with each other do not collide again in step.
                time.sleep(random.uniform(0.5, 1.0) * min(_MAX_BACKOFF_SECONDS, 0.01 * 2**attempt))
            except BaseException:
                _rollback(cursor)
                raise

    # -- reads ------------------------------------------------------------------------------

    def get_values(self, request_id: int) -> tuple[Any, ...] | None:
        return self.get_many_values([request_id]).get(request_id)

    def get_many_values(self, request_ids: Sequence[int]) -> dict[int, tuple[Any, ...]]:
        if self.files is None:
            return super().get_many_values(request_ids)
        try:
            found, left = self.files.get_many_values(self.cursor(), request_ids)
        except psycopg.Error as exc:
            raise StorageError(f"cannot read the lake's catalog: {exc}") from exc
        if left:
            found.update(super().get_many_values(left))
        return found

    def visible_below(self) -> int:
        """Ids at or above this may still be joined by a lower range: newest-first answers stop under it."""
        with self._pg_lock:
            return ids.visible_below(self._pg)

    def list_page(
        self,
        log_filter: LogFilter | None = None,
        *,
        before_id: int | None = None,
        after_id: int | None = None,
        limit: int = 50,
        max_bytes: int | None = None,
        at_least_id: int | None = None,
    ) -> tuple[list[tuple[Any, ...]], bool]:
        def page(below: int | None, above: int | None, least: int | None) -> tuple[list[tuple[Any, ...]], bool]:
            return store_queries.list_page(
                self.cursor(), log_filter, before_id=below, after_id=above, limit=limit, max_bytes=max_bytes,
                at_least_id=least,
            )  # fmt: skip

        # The cap is read before DuckLake's snapshot: every range below it committed before the snapshot.
        cap = self.visible_below()
        if after_id is not None and before_id is None:  # a walk towards newer rows, oldest first
            rows, cut = page(None, after_id, at_least_id)
            return [row for row in rows if row[0] < cap], cut
        before_id = cap if before_id is None else min(before_id, cap)
        if after_id is not None:
            return page(before_id, after_id, at_least_id)
        # Newest first in widening id windows: DuckLake opens only the files whose ids fall in the
        # window (their min/max statistics), where a top-N over the whole table reads every file's ids.
        lowest = at_least_id if at_least_id is not None else 1
        width = max(limit, 1) * _FIRST_WINDOW_ROWS_PER_ROW
        while True:
            floor = max(before_id - width, lowest)
            rows, cut = page(before_id, None, floor if floor > 1 else None)
            if cut or len(rows) >= limit or floor <= lowest:
                return rows, cut
            width *= _WINDOW_GROWTH


def _rollback(cursor: duckdb.DuckDBPyConnection) -> None:
    # A failed COMMIT has already ended the transaction; ROLLBACK then says there is none.
    with contextlib.suppress(duckdb.Error):
        cursor.execute("ROLLBACK")
