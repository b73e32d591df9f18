"""Run the benchmarks, each in its own process so one's memory and threads do not skew another.

`python -m bench` runs all; `python -m bench exporter api` runs those. REQLOG_BENCH_QUICK=1 shrinks
the data sizes for a smoke run.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCHMARKS = ("exporter", "instrumentation", "api", "ingest", "analytics", "django", "ui", "lake")
# bench/lake.py needs DuckDB 1.5.5 and the DuckLake extension wheels: the environment of `make test-lake`.
LAKE_PYTHON = Path(".venv-lake") / "bin" / "python"


def main(argv: list[str]) -> int:
    names = argv or list(BENCHMARKS)
    here = Path(__file__).resolve().parent
    failed = []
    for name in names:
        if not (here / f"{name}.py").exists():
            print(f"bench/{name}.py does not exist; skipping it", file=sys.stderr)
            failed.append(name)
            continue
        lake_python = here.parent / LAKE_PYTHON
        python = str(lake_python) if name == "lake" and lake_python.exists() else sys.executable
        if subprocess.call([python, "-m", f"bench.{name}"], cwd=here.parent) != 0:
            failed.append(name)
    if failed:
        print(f"benchmarks that did not finish: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
