"""Backups: a consistent copy of the request logs, written into a fresh DuckDB file, while the service runs.

DuckDB lets one process hold the file, and the service's instance refuses file access (so no
`ATTACH ... COPY FROM DATABASE` from inside it), so a copy cannot be made beside the service by
copying the file or by the service itself. It is made through the service instead: the export
stream (`GET /api/metrics/request_logs/export`) reads every row in one read-only transaction, a
snapshot that writes going on meanwhile do not change, and this module writes those rows into a
new database created by the store itself (same schema, migrations and views), ids and the dedupe
key kept, the id sequence moved past them. The result is a ready database file: restoring it is
putting it in place of `reqlog.duckdb` (docs/operations.md).

The copy is written under a temporary name and renamed only once complete and counted, so a
backup file that exists is whole.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from exporter.errors import RequestLogError
from exporter.schema import SPAN_KEY, SPAN_KEY_SQL
from exporter.store import RequestLogStore
from exporter.value_parts import ROWS_TABLE, stored_select


class BackupError(RequestLogError):
    """The backup could not be made (the message says why); nothing was left at the target."""


@dataclass(frozen=True, slots=True)
class BackupSummary:
    rows: int
    path: Path
    size: int


def write_backup(
    batches: Iterable[pa.RecordBatch],
    out: Path,
    *,
    expected_rows: int,
    progress: Callable[[int], None] | None = None,
) -> BackupSummary:
    """Write the request-log rows of `batches` into a new database at `out`; refuse an existing `out`.

    `expected_rows` is the snapshot's count: a copy that ends with another count is discarded
    (a stream cut short must never look like a backup). Raises `BackupError`.
    """
    if out.exists():
        raise BackupError(f"{out} exists; choose a new name (a backup never overwrites)")
    partial = out.with_name(f".{out.name}.partial")
    _remove(partial)
    rows = 0
    try:
        store = RequestLogStore(partial)
        try:
            cursor = store.cursor()
            for batch in batches:
                if batch.num_rows == 0:
                    continue
                cursor.register("backup_batch", pa.Table.from_batches([batch]))
                rows_with_keys = f"(SELECT *, {SPAN_KEY_SQL} AS {SPAN_KEY} FROM backup_batch)"
                # Long bodies go back into parts (`exporter/value_parts.py`).
                cursor.execute(f"INSERT INTO {ROWS_TABLE} BY NAME {stored_select(rows_with_keys)}").fetchall()
                cursor.unregister("backup_batch")
                rows += batch.num_rows
                if progress is not None:
                    progress(rows)
            if rows != expected_rows:
                raise BackupError(f"the copy holds {rows} rows, the service counted {expected_rows}; discarded")
            store.sync_sequence()
            cursor.execute("CHECKPOINT").fetchall()  # one self-contained file, no WAL beside it
        finally:
            store.close()
        os.replace(partial, out)
    except BaseException:
        _remove(partial)
        raise
    return BackupSummary(rows=rows, path=out, size=out.stat().st_size)


def backup_accounts(source: Path, out: Path) -> int:
    """Copy the accounts database with SQLite's online backup (safe while the service uses it); its size."""
    if not source.exists():
        raise BackupError(f"no accounts database at {source}")
    if out.exists():
        raise BackupError(f"{out} exists; choose a new name (a backup never overwrites)")
    partial = out.with_name(f".{out.name}.partial")
    _remove(partial)
    src = sqlite3.connect(source.resolve().as_uri() + "?mode=ro", uri=True)
    try:
        dst = sqlite3.connect(partial)
        try:
            src.backup(dst)
        finally:
            dst.close()
    finally:
        src.close()
    os.replace(partial, out)
    return out.stat().st_size


def _remove(path: Path) -> None:
    for leftover in (path, path.with_name(path.name + ".wal")):
        leftover.unlink(missing_ok=True)
