"""A child cursor on the same default database as its parent.

A new DuckDB cursor starts on the instance's first database: the file, for the single file; the
empty in-memory one for a lake attached later (`exporter.lake`), whose cursors `USE` the lake.
Code that opens a fresh cursor for a read-only transaction (analyst SQL, stats, export) opens it here.
"""

from __future__ import annotations

import duckdb


def sibling_cursor(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """A new cursor of `con`'s database instance, on `con`'s default database."""
    cursor = con.cursor()
    (name,) = con.execute("SELECT current_database()").fetchall()[0]
    if cursor.execute("SELECT current_database()").fetchall()[0][0] != name:
        cursor.execute('USE "' + str(name).replace('"', '""') + '"')
    return cursor
