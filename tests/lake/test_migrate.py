"""`reqlog export` from a single file, `reqlog lake-load` into a lake: ids, rows and JSON kept."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime
from pathlib import Path

from exporter.lake import LakeStore
from exporter.row import render_json
from exporter.store import RequestLogStore
from tests.hermetic import clean_environ

from .conftest import Lake
from .rows import make_rows


def _reqlog(*args: str, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "query_api.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=clean_environ(env),
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_export_loads_into_a_lake_keeping_ids_and_the_counter_moves_past(lake: Lake, tmp_path: Path) -> None:
    db = tmp_path / "single.duckdb"
    single = RequestLogStore(db)
    single.insert_rows(make_rows(30, day=datetime(2026, 2, 27, 23, 59, 50)))  # two days
    single.cursor().execute("DELETE FROM request_log_rows WHERE id % 7 = 0")  # gaps, as retention leaves
    single.insert_rows(make_rows(5, start=100))  # ids 31..35
    expected = {values[0]: render_json(values) for values in single.list_values(limit=1000)}
    single.close()
    _reqlog("export", "--db", str(db), "--out", str(tmp_path / "export"))

    env = {"REQLOG_LAKE_CATALOG": lake.dsn("reqlog_writer"), "REQLOG_LAKE_DATA": str(lake.data)}
    env["REQLOG_LAKE_ACCOUNTS"] = lake.accounts()
    first = _reqlog("lake-load", str(tmp_path / "export"), env=env)
    assert f"loaded {len(expected)} rows" in first and "ids from 36" in first
    again = _reqlog("lake-load", str(tmp_path / "export"), env=env)
    assert "loaded 0 rows" in again and f"({len(expected)} already in the lake)" in again

    store = LakeStore(lake.writer())
    try:
        stored = {values[0]: render_json(values) for values in store.list_values(limit=1000)}
        assert stored == expected  # same ids, same JSON, insert times included
        assert [v[0] for v in store.insert_rows(make_rows(2, start=500))] == [36, 37]
        # The loaded spans are in the writers' memory too: sending one again stores nothing.
        assert store.insert_rows(make_rows(1, start=100)) == []
    finally:
        store.close()
