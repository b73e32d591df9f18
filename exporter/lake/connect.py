"""Opening a DuckDB instance on a lake: extensions, the attach, and the service's lock-down.

The attach comes before the lock-down: afterwards DuckDB refuses every file and URL but the data
directory, so analyst SQL can neither read the machine's files nor attach another database.
A query node attaches `READ_ONLY` through a PostgreSQL role that may only SELECT: DuckDB alone
would refuse a `DELETE`, but only the role stops SQL sent to the catalog with `postgres_execute`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import duckdb

from ..errors import StorageError
from .config import LakeConfig
from .extensions import load_extensions

LAKE = "lake"

# `lock_configuration` last: nothing set after it can be changed again.
_LOCKDOWN: tuple[tuple[str, Any], ...] = (
    ("enable_external_access", False),
    ("autoload_known_extensions", False),
    ("autoinstall_known_extensions", False),
    ("allow_community_extensions", False),
    ("lock_configuration", True),
)


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def open_lake(
    config: LakeConfig, *, read_only: bool, memory_limit: str = "1GB", lockdown: bool = True
) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with the lake attached as `lake` and made the default database."""
    if "://" not in config.data:
        Path(config.data).mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(":memory:", config={"memory_limit": memory_limit, "autoinstall_known_extensions": False})
    try:
        load_extensions(con, config.extension_repository)
        options = [f"DATA_PATH {_quote(config.data)}"]
        if read_only:
            options.append("READ_ONLY")
        con.execute(f"ATTACH {_quote('ducklake:postgres:' + config.catalog)} AS {LAKE} ({', '.join(options)})")
        con.execute(f"USE {LAKE}")
        if lockdown:
            data = config.data.rstrip("/") + "/"
            if "://" not in data:
                con.execute(f"SET allowed_directories = [{_quote(data)}]")
            for name, value in _LOCKDOWN:
                con.execute(f"SET {name} = {'true' if value else 'false'}")
    except duckdb.Error as exc:
        con.close()
        raise StorageError(f"cannot attach the lake at {config.data}: {_without_password(str(exc))}") from exc
    return con


def _without_password(message: str) -> str:
    """DuckDB's errors repeat the connection string: keep the password out of logs."""
    return re.sub(r"password=\S+", "password=***", message)
