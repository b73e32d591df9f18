"""Opening the database file from a command (not the service), and telling "busy" apart from other failures.

DuckDB lets one process hold a file; while `reqlog serve` runs, opening it fails with an error about
a conflicting lock that names the holder's PID. Commands turn that into `DatabaseBusy`, so they can
say plainly what to do instead.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from exporter.errors import RequestLogError, StorageError
from exporter.store import SERVICE_DUCKDB_CONFIG, RequestLogStore

_PID = re.compile(r"PID (\d+)")


class DatabaseBusy(RequestLogError):
    """Another process (usually the service) holds the database file; `pid` when DuckDB names it."""

    def __init__(self, path: Path, pid: int | None) -> None:
        super().__init__(f"{path} is held by another process" + (f" (PID {pid})" if pid else ""))
        self.path = path
        self.pid = pid


class NoDatabase(RequestLogError):
    """There is no database file at `path`."""

    def __init__(self, path: Path) -> None:
        super().__init__(f"no database at {path} (pass --db, set $REQLOG_DB, or use --url)")
        self.path = path


@contextmanager
def open_local(path: Path, *, read_only: bool) -> Iterator[RequestLogStore]:
    """The store of the file at `path`: read-only and sandboxed, or read-write (migrated if need be).

    Raises `NoDatabase`, `DatabaseBusy`, or `StorageError` for other failures.
    """
    if not path.exists():
        raise NoDatabase(path)
    try:
        if read_only:
            store = RequestLogStore(path, read_only=True, config=SERVICE_DUCKDB_CONFIG)
        else:
            store = RequestLogStore(path)
    except StorageError as exc:
        # Classify DuckDB's own error when there is one (the store's message repeats the path).
        cause = exc.__cause__ if read_only and isinstance(exc.__cause__, duckdb.Error) else exc
        raise _classify(path, cause) from exc
    try:
        yield store
    finally:
        store.close()


def _classify(path: Path, exc: Exception) -> RequestLogError:
    text = str(exc)
    if "lock" in text.lower():
        match = _PID.search(text)
        return DatabaseBusy(path, int(match.group(1)) if match else None)
    return StorageError(f"cannot open {path}: {text.splitlines()[0] if text else exc!r}")
