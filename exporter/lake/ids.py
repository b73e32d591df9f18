"""Request ids across many writers: contiguous ranges from one counter in the catalog's PostgreSQL.

DuckLake has no sequences, so ids come from a row in PostgreSQL. A writer takes one range per
committed batch in one round trip (the counter's UPDATE and the range's registration are one
statement), so a batch's ids are contiguous and each Parquet file covers a narrow id interval:
a lookup by id opens one file (DuckLake prunes files by their min/max statistics).

Ranges commit out of order: a writer may commit [110, 120) while [100, 110) is still being
written. A reader paging newest-first must not see 110.. and later the rows below it appear behind
its cursor, so `visible_below` gives the lowest id of a range still in flight: answers are capped
under it. A range is in flight from `take` until `release` (after the DuckLake commit, or its
failure). A writer killed in between leaves its range behind: it stops counting as soon as the
writer's PostgreSQL session is gone (the range records the session that took it), and in any case
after `IN_FLIGHT_SECONDS` (far longer than a commit takes; the store refuses to commit a range older
than `COMMIT_WITHIN_SECONDS`, so no range becomes visible after readers have passed it).
Ids stay below 2**53, so JavaScript clients read them exactly.
"""

from __future__ import annotations

import psycopg

COUNTER = "reqlog_id_counter"
RANGES = "reqlog_id_ranges"
IN_FLIGHT_SECONDS = 60
COMMIT_WITHIN_SECONDS = 45
MAX_SAFE_ID = 2**53 - 1

SETUP = (
    f"CREATE TABLE IF NOT EXISTS {COUNTER} (one BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (one), next_id BIGINT NOT NULL)",
    f"INSERT INTO {COUNTER} (one, next_id) VALUES (TRUE, 1) ON CONFLICT (one) DO NOTHING",
    f"CREATE TABLE IF NOT EXISTS {RANGES} (first_id BIGINT PRIMARY KEY, stop_id BIGINT NOT NULL, "
    "taken_at TIMESTAMPTZ NOT NULL DEFAULT now(), holder INTEGER NOT NULL DEFAULT pg_backend_pid())",
)
_TAKE = (
    f"WITH taken AS (UPDATE {COUNTER} SET next_id = next_id + %(n)s RETURNING next_id - %(n)s AS first_id, next_id) "
    f"INSERT INTO {RANGES} (first_id, stop_id) SELECT first_id, next_id FROM taken RETURNING first_id"
)
_VISIBLE_BELOW = (
    f"SELECT coalesce((SELECT min(first_id) FROM {RANGES} "
    f"WHERE taken_at > now() - make_interval(secs => {IN_FLIGHT_SECONDS}) "
    "AND holder IN (SELECT pid FROM pg_stat_activity)), "
    f"(SELECT next_id FROM {COUNTER}))"
)


def setup(conn: psycopg.Connection) -> None:
    """Create the counter and the range table when missing (idempotent; writers run it at start)."""
    with conn.transaction():
        for statement in SETUP:
            conn.execute(statement)


def take(conn: psycopg.Connection, count: int) -> int:
    """Reserve `count` consecutive ids; return the first. One round trip."""
    row = conn.execute(_TAKE, {"n": count}).fetchone()
    assert row is not None
    first = int(row[0])
    if first + count > MAX_SAFE_ID:
        raise OverflowError(f"request ids passed 2**53 ({first + count})")
    return first


def release(conn: psycopg.Connection, first_id: int) -> None:
    """The range starting at `first_id` is committed (or given up): readers may pass it."""
    conn.execute(f"DELETE FROM {RANGES} WHERE first_id = %s", [first_id])


def visible_below(conn: psycopg.Connection) -> int:
    """Every id below this is committed or will never be: the cap of a newest-first answer."""
    row = conn.execute(_VISIBLE_BELOW).fetchone()
    return int(row[0]) if row and row[0] is not None else 1


def move_past(conn: psycopg.Connection, max_id: int) -> None:
    """Make the counter give ids above `max_id` (after loading rows that carry their own ids)."""
    conn.execute(f"UPDATE {COUNTER} SET next_id = greatest(next_id, %s)", [max_id + 1])
