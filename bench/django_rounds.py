"""The rounds of `bench/django.py`: each group of variants in its own process, in a shuffled order.

Each process (`python -m bench.django FRAMEWORK VARIANTS N`) prints its measurements as JSON; this
gathers them over the rounds into medians per variant.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

from .common import QUICK, median

ROOT = Path(__file__).resolve().parents[1]
PEERS_PYTHON = ROOT / ".venv-peers" / "bin" / "python"

# The variants timed together in one process each: reqlog and stock OTel share one (the peers'
# environment, whose SDK both then use); drf-api-logger and silk need their own settings.
PROCESSES = {
    "django": (("reqlog", "otel"), ("drf_api_logger",), ("silk",)),
    "flask": (("reqlog", "otel"),),
}
ROUNDS = 2 if QUICK else 5
REQUESTS = 200 if QUICK else 1000


def measure_rounds(framework: str) -> tuple[float, dict[str, dict[str, Any]], list[float]]:
    """The bare request's CPU cost, each variant's added cost (CPU and wall) as medians over rounds,
    and each round's ratio of reqlog's added CPU cost to stock OTel's (timed in the same process)."""
    groups = PROCESSES[framework]
    bare: list[float] = []
    added: dict[str, dict[str, list[float]]] = {}
    captures: dict[str, list[str]] = {}
    cyclic: dict[str, list[str]] = {}  # the last round's: what only the cyclic GC freed, per request
    bare_gc: list[dict[str, Any]] = []
    ratios: list[float] = []
    for round_number in range(ROUNDS):
        order = list(groups)
        random.shuffle(order)
        for group in order:
            # Within a process, the variant built (and warmed up) first measured a few per cent
            # dearer than the same code built second: no variant is always first.
            group = group[::-1] if round_number % 2 else group
            env = {k: v for k, v in os.environ.items() if not k.startswith(("REQLOG_", "OTEL_"))}
            python = str(PEERS_PYTHON) if "otel" in group else sys.executable
            env["PYTHONPATH"] = str(ROOT)  # the peers' environment does not have reqlog installed
            count = REQUESTS // 10 if "silk" in group else REQUESTS  # silk costs ~10x a request
            out = subprocess.run(
                [python, "-m", "bench.django", framework, ",".join(group), str(count)],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
                check=True,
            ).stdout.splitlines()
            result = json.loads(out[-1])
            bare.append(result["bare"])
            for variant, measured in result["variants"].items():
                added.setdefault(variant, {"cpu": [], "wall": [], "gc": [], "tracked": [], "promoted": []})
                added[variant]["cpu"].append(measured["added"])
                added[variant]["wall"].append(measured["added_wall"])
                added[variant]["gc"].append(measured["gc_us"] - result["bare_gc"]["gc_us"])
                counts, bare_counts = result["gc_counts"][variant], result["gc_counts"]["bare"]
                for key in ("tracked", "promoted"):
                    added[variant][key].append(counts[f"{key}_per_request"] - bare_counts[f"{key}_per_request"])
                cyclic[variant] = [
                    f"{kind} {count - bare_counts['cyclic_types'].get(kind, 0):+g}"
                    for kind, count in counts["cyclic_types"].items()
                    if abs(count - bare_counts["cyclic_types"].get(kind, 0)) >= 0.05
                ] or ["none"]
                captures[variant] = measured["captures"]
            bare_gc.append(result["gc_counts"]["bare"])
            if "otel" in group:
                ratios.append(result["variants"]["reqlog"]["added"] / result["variants"]["otel"]["added"])
    summary = {
        variant: {
            "cpu": median(v["cpu"]),
            "wall": median(v["wall"]),
            "gc": median(v["gc"]),
            "tracked": median(v["tracked"]),
            "promoted": median(v["promoted"]),
            "captures": captures[variant],
        }
        for variant, v in added.items()
    }
    summary["bare"] = {
        "tracked": median([counts["tracked_per_request"] for counts in bare_gc]),
        "promoted": median([counts["promoted_per_request"] for counts in bare_gc]),
        "cyclic": bare_gc[-1]["cyclic_per_request"],
    }
    for variant, kinds in cyclic.items():
        summary[variant]["cyclic_types"] = kinds
    return median(bare), summary, ratios
