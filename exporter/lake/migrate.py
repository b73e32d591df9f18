"""Moving a single-file deployment onto a lake: `reqlog export` output loaded with its ids kept.

The export is Parquet, one file per day, every `RequestLog` column. Each file is read with pyarrow
(the lake's DuckDB never reads the machine's files: it is locked down to the data directory) and
inserted as it is: the ids, the insert times, and a span key for the writers' memory. Rows whose id
the lake already holds are skipped, so loading the same export twice stores it once. Then the
PostgreSQL counter moves past the largest id, and new requests get higher ids than every old one.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from ..errors import StorageError
from ..row import COLUMN_NAMES
from ..schema import SPAN_KEY, SPAN_KEY_SQL, TABLE
from .store import LakeStore


@dataclasses.dataclass(frozen=True, slots=True)
class LoadResult:
    files: int
    rows: int  # rows the lake gained
    skipped: int  # rows whose id the lake already held
    next_id: int  # the id the counter gives next


def export_files(directory: Path) -> list[Path]:
    """The Parquet files of an export (`date=YYYY-MM-DD/part-0.parquet`), oldest day first."""
    files = sorted(directory.glob("date=*/*.parquet"))
    if not files:
        raise StorageError(f"{directory} holds no `reqlog export` output (date=YYYY-MM-DD/*.parquet)")
    return files


def _as_plain_strings(table: pa.Table) -> pa.Table:
    # The export marks JSON columns with Arrow's JSON extension type; the lake stores their text.
    columns = [c.cast(pa.string()) if isinstance(c.type, pa.ExtensionType) else c for c in table.columns]
    return pa.Table.from_arrays(columns, names=table.column_names)


def load_export(store: LakeStore, files: Iterable[Path]) -> LoadResult:
    """Insert every row of `files` with its own id; see the module's description."""
    cursor = store.cursor()
    count = gained = skipped = 0
    for path in files:
        table = _as_plain_strings(pq.read_table(path, columns=list(COLUMN_NAMES)))
        count += 1
        if table.num_rows == 0:
            continue
        cursor.register("_reqlog_import", table)
        try:
            cursor.execute("BEGIN TRANSACTION")
            found = cursor.execute(
                f"INSERT INTO {TABLE} ({', '.join(COLUMN_NAMES)}, {SPAN_KEY}) "
                f"SELECT {', '.join(COLUMN_NAMES)}, {SPAN_KEY_SQL} FROM _reqlog_import "
                f"WHERE id NOT IN (SELECT id FROM {TABLE} WHERE id BETWEEN "
                "(SELECT min(id) FROM _reqlog_import) AND (SELECT max(id) FROM _reqlog_import))"
            ).fetchall()
            cursor.execute("COMMIT")
        except BaseException:
            cursor.execute("ROLLBACK")
            raise
        finally:
            cursor.unregister("_reqlog_import")
        inserted = int(found[0][0]) if found else 0
        gained += inserted
        skipped += table.num_rows - inserted
    return LoadResult(files=count, rows=gained, skipped=skipped, next_id=store.sync_sequence())
