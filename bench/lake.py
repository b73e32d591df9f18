"""reqlog on DuckLake (docs/scale.md): ingest per writer against the single file, lookups and routes at scale.

Runs in the lake environment (`make bench` uses `.venv-lake` for it: DuckDB 1.5.5 and the extension
wheels), on a throwaway PostgreSQL started here, with the lake's data on the local disk.

1. OTLP ingest, spans/s: the same pre-encoded batches of 512 realistic spans (`bench.spans`) POSTed
   by 4 clients to `reqlog serve` on one DuckDB file, and to one lake writer
   (`reqlog serve --backend ducklake --role writer`), rounds interleaved, medians compared.
   Goal: a writer >= 0.5x the single file.
2. A lake of ROWS rows (1M; REQLOG_BENCH_LAKE_ROWS=10000000 for the 10M-row figures), written as
   the writers write it: one commit per 10,000 rows, ids in contiguous ranges. Lookups by id on a
   query node's store, DuckLake's own read and the file index's (`exporter/lake/lookup.py`)
   interleaved for the same random ids: files read and p50. Goal: one file, p50 <= 20 ms.
3. Per-route p95 over HTTP on a query node of that lake (SQL time limit raised, so a slow route is
   timed rather than refused): retrieve, list (plain and filtered), stats. Goal (at 10M rows): <= 2 s.
2 and 3 run on the files as written, then again after the maintenance pass's compaction
(`ducklake_merge_adjacent_files`).

The modules: `lake_data` (the lakes, their nodes and rows), `lake_ingest` (1), `lake_reads` (2, 3);
this one runs them in order and reports.

    make bench   # or: .venv-lake/bin/python -m bench lake   (REQLOG_BENCH_QUICK=1: smaller)
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.common import report
from bench.lake_data import COMMIT_ROWS, ROWS, compact, fill, make_lake
from bench.lake_ingest import ingest
from bench.lake_reads import lookups, routes
from query_api.accounts.pg import PgAccountDB
from tests.lake.postgres import ThrowawayPostgres


def main() -> None:
    server = ThrowawayPostgres().start()
    root = Path(tempfile.mkdtemp(prefix="reqlog-bench-lake-"))
    try:
        ingest_rows, ratio = ingest(server, root)
        lake = make_lake(server, root, "scale")
        store, fill_seconds = fill(lake)
        store.close()
        with PgAccountDB(lake["accounts"]) as accounts:
            accounts.create_account("analyst", is_staff=True, is_superuser=True)
            token = accounts.create_token("analyst")
        lookup_rows = lookups(lake, "as written")
        route_rows = routes(lake, root, token, "as written")
        compact_seconds = compact(lake)
        lookup_rows += lookups(lake, "compacted")
        route_rows += routes(lake, root, token, "compacted")
    finally:
        server.stop()
        subprocess.run(["rm", "-rf", str(root)], check=False)
    rows: list[dict[str, Any]] = [
        *ingest_rows,
        {"path": f"fill {ROWS:,} rows, {COMMIT_ROWS:,} a commit", "spans_per_s": ROWS / fill_seconds, "rounds": 1},
        {"path": f"compact {ROWS:,} rows (merge_adjacent_files)", "spans_per_s": ROWS / compact_seconds, "rounds": 1},
    ]
    report("lake_ingest", rows)
    report("lake_lookup", lookup_rows)
    indexed = max((row for row in lookup_rows if row["path"].startswith("file index")), key=lambda row: row["p50_ms"])
    goals = [
        {"goal": "lake writer / single file, OTLP spans/s", "value": ratio, "target": ">= 0.5", "ok": ratio >= 0.5},
        {
            "goal": f"files read by a lookup by id at {ROWS:,} rows (the slower of as written / compacted)",
            "value": indexed["files_read"],
            "target": "1",
            "ok": indexed["files_read"] == 1,
        },
        {"goal": "lookup by id p50 (ms)", "value": indexed["p50_ms"], "target": "<= 20", "ok": indexed["p50_ms"] <= 20},
    ]
    worst = max(row["p95_s"] for row in route_rows)
    goals.append(
        {"goal": f"slowest route p95 at {ROWS:,} rows (s)", "value": worst, "target": "<= 2", "ok": worst <= 2}
    )
    report("lake", route_rows, goals=goals)


if __name__ == "__main__":
    if "duckdb_extension_ducklake" not in sys.modules and not __import__("importlib").util.find_spec(
        "duckdb_extension_ducklake"
    ):
        raise SystemExit("bench/lake.py runs in the lake environment: .venv-lake/bin/python -m bench lake")
    main()
