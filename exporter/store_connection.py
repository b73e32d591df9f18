"""One DuckDB database file held by this process: per-thread cursors, migrations, and reopening.

DuckDB connections are not safe to share between threads, so each thread gets its own cursor of
the one connection. After DuckDB invalidates a database (a checkpoint that could not get memory,
for one), every statement fails until the file is opened again: `reopen` does that, and the
cursors of the old connection are replaced on their thread's next use. `store.RequestLogStore`
builds the request-log operations on top of this.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from . import store_queries
from .errors import StorageError
from .schema import MIGRATIONS, SCHEMA_VERSION
from .value_parts import ROWS_TABLE

logger = logging.getLogger("exporter.store")

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


class StoreConnection:
    """Open (creating or migrating, unless `read_only`) the reqlog database at `path`.

    Raises `StorageError` when the file cannot be opened or was written by a newer release.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        memory_limit: str = "1GB",
        checkpoint_threshold: str = "256MB",
        config: dict[str, Any] | None = None,
        read_only: bool = False,
    ) -> None:
        self.path = Path(path)
        self.read_only = read_only
        self._local = threading.local()
        self._closed = False
        if str(path) != ":memory:" and not read_only:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._settings: dict[str, Any] = (
            {} if read_only else {"memory_limit": memory_limit, "checkpoint_threshold": checkpoint_threshold}
        )
        self._settings.update(config or {})
        self._cursors: list[duckdb.DuckDBPyConnection] = []
        self._cursors_lock = threading.Lock()
        self._generation = 0  # bumped by `reopen`: a thread's cursor of an older connection is replaced
        self.reopens = 0  # times the file was reopened after DuckDB invalidated the database
        self.last_reopen: tuple[datetime, str] | None = None  # (when, DuckDB's error) of the last one
        self._con = self._connect()
        if not read_only:
            self._migrate()

    def _connect(self) -> duckdb.DuckDBPyConnection:
        try:
            return duckdb.connect(str(self.path), read_only=self.read_only, config=self._settings)
        except duckdb.Error as exc:
            raise StorageError(f"cannot open {self.path}: {exc}") from exc

    # -- schema -----------------------------------------------------------------------------

    # The table behind `request_logs` that keeps long values in parts (`value_parts`), or None:
    # a file of an older schema opened read-only (not migrated), or a backend without parts.
    @functools.cached_property
    def parts_table(self) -> str | None:
        found = self.cursor().execute("SELECT 1 FROM duckdb_tables() WHERE table_name = ?", [ROWS_TABLE]).fetchall()
        return ROWS_TABLE if found else None

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
                con.execute("INSERT INTO reqlog_migrations VALUES (?, ?)", [version, utcnow()])
                con.execute("COMMIT")
            except duckdb.Error as exc:
                con.execute("ROLLBACK")
                raise StorageError(f"migration {version} failed: {exc}") from exc

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

    @property
    def closed(self) -> bool:
        """`close()` was called (the service's readiness check reads it)."""
        return self._closed

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
            self.last_reopen = (utcnow(), reason.splitlines()[0][:500] if reason else "")
            self._con = self._connect()
        logger.warning("the database %s was reopened (%d rows)", self.path, store_queries.count(self.cursor()))


def utcnow() -> datetime:
    """The current time as naive UTC, the store's convention."""
    return datetime.now(UTC).replace(tzinfo=None)
