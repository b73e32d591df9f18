"""What every benchmark shares: robust statistics, a printed table, and a JSON result file.

These machines are shared and noisy, so benchmarks compare against a baseline measured in the same
run and report medians and ratios rather than single absolute times.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

RESULTS_DIR = Path(__file__).resolve().parent / "results"
QUICK = os.environ.get("REQLOG_BENCH_QUICK") == "1"


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile (`fraction` in 0..1) of a non-empty sequence."""
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def repeat_rate(fn: Callable[[], int], *, rounds: int = 5) -> float:
    """Median items per second over `rounds` calls of `fn`, which returns how many items it did."""
    rates = []
    for _ in range(rounds):
        start = time.perf_counter()
        items = fn()
        rates.append(items / (time.perf_counter() - start))
    return median(rates)


def run_threads(threads: Sequence[threading.Thread]) -> float:
    """Start `threads` together and wait for all of them: the seconds that took."""
    begin = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - begin


def report(name: str, rows: Sequence[dict[str, Any]], *, goals: Sequence[dict[str, Any]] = ()) -> dict[str, Any]:
    """Print `rows` as a table plus each goal (`{"goal", "value", "target", "ok"}`); write JSON.

    The JSON lands in `bench/results/<name>.json` with the machine's description.
    """
    print(f"\n== {name} ==")
    if rows:
        headers = list(rows[0])
        cells = [[_fmt(row.get(h)) for h in headers] for row in rows]
        widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(headers)]
        print("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)))
        print("  ".join("-" * w for w in widths))
        for line in cells:
            print("  ".join(c.rjust(w) if _numeric(c) else c.ljust(w) for c, w in zip(line, widths, strict=True)))
    for goal in goals:
        mark = "PASS" if goal["ok"] else "MISS"
        print(f"[{mark}] {goal['goal']}: {_fmt(goal['value'])} (target {goal['target']})")
    result = {
        "benchmark": name,
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "quick": QUICK,
        "rows": list(rows),
        "goals": list(goals),
    }
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    (RESULTS_DIR / f"{name}.json").write_text(json.dumps(result, indent=2, default=str) + "\n")
    return result


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.3f}" if abs(value) < 100 else f"{value:,.0f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def _numeric(cell: str) -> bool:
    return cell.replace(",", "").replace(".", "", 1).lstrip("-").isdigit()
