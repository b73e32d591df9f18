"""Retention on a real DuckDB file: only rows older than the cutoff go, space is freed, compaction keeps ids."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from exporter.row import COLUMN_NAMES, RequestLog
from exporter.store import RequestLogStore
from exporter.store_housekeeping import compact
from query_api.housekeeping.retention import cutoff_for, parse_age

from .sqldata import T0, make_row, service_store

CUTOFF = T0 + timedelta(days=1)


def _rows_at_and_around_the_cutoff() -> list[RequestLog]:
    rows = [make_row(i) for i in range(500)]  # every 7 minutes: ~1.7 days on both sides of CUTOFF
    rows.append(make_row(1000, started_at=CUTOFF))  # exactly at the cutoff: kept
    rows.append(make_row(1001, started_at=CUTOFF - timedelta(microseconds=1)))  # just before: deleted
    rows.append(make_row(1002, started_at=None, trace_id="f" * 32))  # no start time: never deleted
    return rows


def test_prune_deletes_only_rows_older_than_the_cutoff(db_path: Path) -> None:
    with service_store(db_path) as store:
        store.insert_rows(_rows_at_and_around_the_cutoff())
        cursor = store.cursor()
        select = f"SELECT {', '.join(COLUMN_NAMES)} FROM request_logs WHERE started_at >= ? OR started_at IS NULL"
        newer = cursor.execute(select + " ORDER BY id", [CUTOFF]).fetchall()
        older = cursor.execute("SELECT count(*) FROM request_logs WHERE started_at < ?", [CUTOFF]).fetchall()[0][0]
        batches: list[int] = []
        result = store.prune(CUTOFF, batch_rows=40, on_batch=batches.append)
        assert result.deleted == older > 40
        assert batches[-1] == older and len(batches) == -(-older // 40)
        assert result.checkpointed
        # Every newer row is still there, byte for byte, and nothing older is.
        assert cursor.execute(select + " ORDER BY id", [CUTOFF]).fetchall() == newer
        assert store.count() == len(newer)
        assert cursor.execute("SELECT count(*) FROM request_logs WHERE started_at < ?", [CUTOFF]).fetchall() == [(0,)]
        # Running it again finds nothing to do.
        assert store.prune(CUTOFF).deleted == 0


def test_prune_with_nothing_old_changes_nothing(db_path: Path) -> None:
    with service_store(db_path, rows=30) as store:
        result = store.prune(T0 - timedelta(days=1))
        assert (result.deleted, result.checkpointed, store.count()) == (0, False, 30)


def test_compaction_shrinks_the_file_and_keeps_ids(db_path: Path) -> None:
    with service_store(db_path, rows=3000) as store:
        store.prune(T0 + timedelta(days=30))
        assert store.count() == 0
        store.insert_rows([make_row(i, trace_id=f"{i + 10**6:032x}") for i in range(3000)])
    with service_store(db_path) as store:
        store.prune(T0 + timedelta(days=14))
        kept = store.cursor().execute("SELECT max(id), count(*) FROM request_logs").fetchall()[0]
    before, after = compact(db_path)
    assert after < before
    store = RequestLogStore(db_path)
    try:
        assert store.cursor().execute("SELECT max(id), count(*) FROM request_logs").fetchall()[0] == kept
        (stored,) = store.insert_rows([make_row(9999, trace_id="e" * 32)])
        assert stored[0] == 6001  # the id sequence carried on: ids are never reused
        assert store.cursor().execute("SELECT count(*) FROM route_latency").fetchall()[0][0] > 0
    finally:
        store.close()
    assert not list(db_path.parent.glob("*.bak")) and not list(db_path.parent.glob("*.compact"))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30d", timedelta(days=30)),
        ("30", timedelta(days=30)),
        ("12h", timedelta(hours=12)),
        ("2w", timedelta(weeks=2)),
        ("90min", timedelta(minutes=90)),
        ("6mo", timedelta(days=180)),
        ("1y", timedelta(days=365)),
        ("30 days", timedelta(days=30)),
    ],
)
def test_parse_age(text: str, expected: timedelta) -> None:
    assert parse_age(text) == expected


@pytest.mark.parametrize("text", ["", "0d", "-3d", "30 dayz", "d", "6m", "6M", "36501d", "9" * 40])
def test_parse_age_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_age(text)


def test_cutoff_for() -> None:
    assert cutoff_for(timedelta(days=30), now=datetime(2025, 12, 31)) == datetime(2025, 12, 1)
