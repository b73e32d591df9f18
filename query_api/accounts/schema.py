"""The accounts database's tables, and the columns later releases added to older files."""

from __future__ import annotations

import sqlite3

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS accounts (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        username TEXT NOT NULL UNIQUE,
        full_name TEXT NOT NULL DEFAULT '',
        is_active INTEGER NOT NULL DEFAULT 1,
        is_staff INTEGER NOT NULL DEFAULT 0,
        is_superuser INTEGER NOT NULL DEFAULT 0,
        created_at TEXT NOT NULL,
        password_hash TEXT
    )""",
    """CREATE TABLE IF NOT EXISTS permissions (
        account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        code INTEGER NOT NULL,
        PRIMARY KEY (account_id, code)
    )""",
    """CREATE TABLE IF NOT EXISTS tokens (
        key_hash TEXT PRIMARY KEY,
        account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        created_at TEXT NOT NULL
    )""",
)
# Columns added later, to files made before them: a token's first characters (to tell tokens apart in
# `reqlog token list`; 8 of 40 hex characters leave 128 bits unknown) and when the service last saw it.
TOKEN_COLUMNS = {"prefix": "TEXT", "last_used_at": "TEXT"}


def create_or_upgrade(con: sqlite3.Connection) -> None:
    """Create the tables of a new file, or add what an older file lacks (inside the caller's transaction)."""
    for statement in SCHEMA:
        con.execute(statement)
    present = {row[1] for row in con.execute("PRAGMA table_info(tokens)")}
    for column, kind in TOKEN_COLUMNS.items():
        if column not in present:
            con.execute(f"ALTER TABLE tokens ADD COLUMN {column} {kind}")
    # Files made before the viewer's sign-in have no password column: add it (NULL = no password).
    columns = {row[1] for row in con.execute("PRAGMA table_info(accounts)")}
    if "password_hash" not in columns:
        con.execute("ALTER TABLE accounts ADD COLUMN password_hash TEXT")
