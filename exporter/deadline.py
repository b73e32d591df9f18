"""Reads with a time limit: a read-only transaction on a cursor, interrupted by a timer.

The analyst SQL sandbox (`query_api.sql.sandbox`) runs an analyst's statement this way, and the
store runs its own heavier reads (`RequestLogStore.stats`) the same way, so a slow one is cut off
at the service's `sql_timeout` with the same message.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import duckdb

from .errors import SqlFailed, SqlTimeout


def run_with_deadline(
    con: duckdb.DuckDBPyConnection, sql: str, params: list[Any], *, timeout: float | None
) -> list[tuple[Any, ...]]:
    """Run our own parameterised read (not analyst text) read-only on a new cursor of `con`; all rows.

    Raises `SqlTimeout` (interrupted after `timeout` seconds; `None` or 0 means no limit) or
    `SqlFailed` (DuckDB's own error).
    """
    cursor = con.cursor()
    try:
        with read_only_deadline(cursor, timeout):
            return cursor.execute(sql, params).fetchall()
    finally:
        cursor.close()


@contextmanager
def read_only_deadline(cursor: duckdb.DuckDBPyConnection, timeout: float | None) -> Iterator[None]:
    """A read-only transaction on `cursor`, interrupted after `timeout` seconds; DuckDB errors as `SqlError`s."""
    state = _Deadline(cursor)
    timer = threading.Timer(timeout, state.expire) if timeout else None
    try:
        cursor.execute("BEGIN TRANSACTION READ ONLY")
        if timer is not None:
            timer.start()
        yield
    except duckdb.InterruptException as exc:
        raise SqlTimeout(timeout or 0) from exc
    except duckdb.Error as exc:
        if state.expired:
            raise SqlTimeout(timeout or 0) from exc
        raise SqlFailed(clean_message(exc)) from exc
    finally:
        state.finish()
        if timer is not None:
            timer.cancel()


class _Deadline:
    """Interrupts the cursor once, unless the query finished first (no interrupt may hit a later statement)."""

    def __init__(self, cursor: duckdb.DuckDBPyConnection) -> None:
        self._cursor = cursor
        self._lock = threading.Lock()
        self._done = False
        self.expired = False

    def expire(self) -> None:
        with self._lock:
            if self._done:
                return
            self.expired = True
            self._cursor.interrupt()

    def finish(self) -> None:
        with self._lock:
            self._done = True


def clean_message(exc: duckdb.Error) -> str:
    """DuckDB's message without its caret diagram (which spans several lines): its first line."""
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
