"""Parquet export from a real DuckDB file, read back by DuckDB (Hive partitions) and by pyarrow."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from exporter.row import COLUMN_NAMES, RequestLog
from query_api.housekeeping.export import export_from, parse_bound

from .sqldata import T0, service_store

N = 600  # rows every 7 minutes from 2025-11-19 14:00: three days and a bit


def _stored(db_path: Path) -> list[tuple[object, ...]]:
    with service_store(db_path) as store:
        return store.cursor().execute(f"SELECT {', '.join(COLUMN_NAMES)} FROM request_logs ORDER BY id").fetchall()


def test_export_round_trips_through_duckdb_and_pyarrow(db_path: Path, tmp_path: Path) -> None:
    out = tmp_path / "export"
    with service_store(db_path, rows=N) as store:
        # Some rows with every optional field empty, to prove NULLs survive too.
        store.insert_rows([RequestLog(started_at=T0 + timedelta(hours=k)) for k in range(2)])
        seen: list[tuple[int, int]] = []
        summary = export_from(store, out, progress=lambda done, total: seen.append((done, total)))
        expected = store.cursor().execute(f"SELECT {', '.join(COLUMN_NAMES)} FROM request_logs ORDER BY id").fetchall()
    assert summary.rows == N + 2
    assert seen[-1] == (N + 2, N + 2)
    days = sorted(p.parent.name for p in summary.files)
    assert days == ["date=2025-11-19", "date=2025-11-20", "date=2025-11-21", "date=2025-11-22"]
    assert all(pq.ParquetFile(p).metadata.row_group(0).column(0).compression == "ZSTD" for p in summary.files)

    con = duckdb.connect()
    try:
        got = con.execute(
            f"SELECT {', '.join(COLUMN_NAMES)}, date FROM read_parquet(?, hive_partitioning = true) ORDER BY id",
            [str(out / "**" / "*.parquet")],
        ).fetchall()
        described = con.execute(f"DESCRIBE SELECT * FROM read_parquet('{out}/**/*.parquet', hive_partitioning=true)")
        types = {row[0]: row[1] for row in described.fetchall()}
        ua = con.execute(
            f"SELECT request_headers->>'User-Agent' FROM read_parquet('{out}/**/*.parquet') WHERE id = 1"
        ).fetchone()
    finally:
        con.close()
    assert [row[:-1] for row in got] == expected  # every field of every row, NULLs included
    assert all(str(row[-1]) == row[COLUMN_NAMES.index("started_at")].date().isoformat() for row in got)
    assert (
        types["request_headers"] == "JSON" and types["started_at"] == "TIMESTAMP" and types["status_code"] == "INTEGER"
    )
    assert ua == ("Firefox",)

    table = ds.dataset(out, format="parquet", partitioning="hive").to_table()
    assert table.num_rows == N + 2
    by_id = {row["id"]: row for row in table.to_pylist()}
    for values in expected:
        row = by_id[values[0]]
        assert tuple(row[name] for name in COLUMN_NAMES) == values


def test_since_and_until_select_whole_days(db_path: Path, tmp_path: Path) -> None:
    with service_store(db_path, rows=N) as store:
        summary = export_from(
            store, tmp_path / "x", since=parse_bound("2025-11-20"), until=parse_bound("2025-11-20", end=True)
        )
        expected = (
            store.cursor()
            .execute("SELECT count(*) FROM request_logs WHERE started_at >= '2025-11-20' AND started_at < '2025-11-21'")
            .fetchone()
        )
    assert [p.parent.name for p in summary.files] == ["date=2025-11-20"]
    assert (summary.rows,) == expected
    assert pq.read_table(summary.files[0]).num_rows == summary.rows


def test_exporting_a_day_again_replaces_it(db_path: Path, tmp_path: Path) -> None:
    with service_store(db_path, rows=50) as store:
        first = export_from(store, tmp_path / "x")
        second = export_from(store, tmp_path / "x")
    assert first.files == second.files
    assert sum(pq.read_table(p).num_rows for p in second.files) == 50
    assert not list((tmp_path / "x").rglob("*.tmp"))


def test_empty_range_writes_nothing(db_path: Path, tmp_path: Path) -> None:
    with service_store(db_path, rows=10) as store:
        summary = export_from(store, tmp_path / "x", since=datetime(2030, 1, 1))
    assert summary.rows == 0 and summary.files == []


@pytest.mark.parametrize(
    ("text", "end", "expected"),
    [
        ("2025-11-20", False, datetime(2025, 11, 20)),
        ("2025-11-20", True, datetime(2025, 11, 21)),
        ("2025-11-20T10:30:00", True, datetime(2025, 11, 20, 10, 30)),
        ("2025-11-20T10:30:00+02:00", False, datetime(2025, 11, 20, 8, 30)),
        ("2025-11-20T10:30:00Z", False, datetime(2025, 11, 20, 10, 30)),
        (None, False, None),
    ],
)
def test_parse_bound(text: str | None, end: bool, expected: datetime | None) -> None:
    assert parse_bound(text, end=end) == expected


def test_parse_bound_rejects_garbage() -> None:
    with pytest.raises(ValueError):
        parse_bound("last tuesday")
