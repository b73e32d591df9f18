"""Where a running `reqlog serve` can be reached, in a small file beside its database.

DuckDB lets one process hold the file, so a command that finds it held points the user at the
service instead (`analysis`). The service's real address is only known to the service (`--port`
may differ from `$REQLOG_PORT`), so it writes it here once it serves, and removes it when it
stops. A file left by a killed service is told apart by its PID, which must be the lock holder's.
"""

from __future__ import annotations

import os
from pathlib import Path

import orjson


def path_for(db: Path) -> Path:
    return db.with_name(db.name + ".service")


def write(db: Path, url: str) -> None:
    """Record that this process serves `db` at `url` (replaced atomically)."""
    target = path_for(db)
    partial = target.with_name(target.name + ".tmp")
    partial.write_bytes(orjson.dumps({"url": url, "pid": os.getpid()}))
    partial.replace(target)


def remove(db: Path) -> None:
    """Forget the record, if it is this process's."""
    if read(db, pid=os.getpid()) is not None:
        path_for(db).unlink(missing_ok=True)


def read(db: Path, *, pid: int | None) -> str | None:
    """The URL of the service holding `db`: only when the record's PID is `pid` (None: any)."""
    try:
        record = orjson.loads(path_for(db).read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return None
    if not isinstance(record, dict) or not isinstance(record.get("url"), str):
        return None
    if pid is not None and record.get("pid") != pid:
        return None  # left by another (perhaps killed) process
    return str(record["url"])
