"""The request-log table in a DuckLake: the same columns as the single file's, without what DuckLake lacks.

DuckLake has no sequences, PRIMARY KEY, UNIQUE or per-column compression choice (Parquet files are
zstd-compressed as a whole), so the table is `RequestLog`'s columns with their plain types; ids come
from `ids`, uniqueness of spans from the writers' memory and the maintenance pass (`dedupe`).
The analyst views are the single file's, so the same SQL works on both.
"""

from __future__ import annotations

from ..analytics import ANALYST_VIEWS
from ..row import iter_columns
from ..schema import SPAN_KEY, TABLE

LAKE_SCHEMA_VERSION = 1


def lake_type(sql_type: str) -> str:
    """The column's type without the single file's constraints (`BIGINT PRIMARY KEY` -> `BIGINT`)."""
    return sql_type.removesuffix(" PRIMARY KEY")


def create_table_sql() -> str:
    columns = [f"{name} {lake_type(sql_type)}" for name, sql_type, _ in iter_columns()]
    columns.append(f"{SPAN_KEY} UBIGINT")
    return f"CREATE TABLE IF NOT EXISTS {TABLE} (\n  " + ",\n  ".join(columns) + "\n)"


# Partitioned by the day a request started: retention then deletes whole files (`housekeeping`).
PARTITION_SQL = f"ALTER TABLE {TABLE} SET PARTITIONED BY (year(started_at), month(started_at), day(started_at))"
MIGRATION: tuple[str, ...] = (
    "CREATE TABLE IF NOT EXISTS reqlog_migrations (version INTEGER, applied_at TIMESTAMP)",
    create_table_sql(),
    PARTITION_SQL,
    *ANALYST_VIEWS,
)
