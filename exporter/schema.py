"""The request-log table: its DDL, derived from `RequestLog`, and the versioned migrations.

`TABLE` is the name every reader queries: in a DuckDB file, since schema version 3, a view over
the table `value_parts.ROWS_TABLE`, which writes name; in the lake, the table itself.
"""

from __future__ import annotations

from .analytics import ANALYST_VIEWS
from .row import iter_columns
from .value_parts import migration as value_parts_migration

TABLE = "request_logs"
SEQUENCE = "request_logs_id_seq"
SPAN_KEY = "span_key"
# The dedupe key of a row, as SQL over its `trace_id` and `span_id` columns.
SPAN_KEY_SQL = "CASE WHEN trace_id IS NULL OR span_id IS NULL THEN NULL ELSE hash(trace_id, span_id) END"


def create_table_sql() -> str:
    columns = []
    for name, sql_type, compression in iter_columns():
        column = f"{name} {sql_type}"
        if name == "id":
            column += f" DEFAULT nextval('{SEQUENCE}')"
        if compression:
            column += f" USING COMPRESSION {compression}"
        columns.append(column)
    # (trace_id, span_id) identifies a span: a client retrying a batch must not store it twice. The
    # index that enforces it is on a 64-bit hash of the pair, not on the 48 hex characters: the
    # string index cost ~180 bytes a row on disk (bench/analytics.py), more than half the row.
    # `span_key` is internal: not part of `RequestLog`, not served, NULL for spans without ids.
    columns.append(f"{SPAN_KEY} UBIGINT")
    columns.append(f"UNIQUE ({SPAN_KEY})")
    return f"CREATE TABLE {TABLE} (\n  " + ",\n  ".join(columns) + "\n)"


# Append-only: a release that changes the row adds a migration; an older file is brought up to
# date when it is opened. Version 1 is the row as `RequestLog` declares it.
MIGRATIONS: tuple[tuple[int, tuple[str, ...]], ...] = (
    (
        1,
        (
            f"CREATE SEQUENCE {SEQUENCE} START 1",
            create_table_sql(),
        ),
    ),
    # Views for analysts: per-route latency, hourly traffic, slowest requests, top exceptions, bot share.
    (2, ANALYST_VIEWS),
    # Long bodies in parts (`value_parts`): the table becomes `request_log_rows`, `request_logs` a view.
    (3, value_parts_migration(TABLE, SPAN_KEY)),
)
SCHEMA_VERSION = MIGRATIONS[-1][0]
