"""The Django benchmark's cost per request from counts a shared machine's load does not move.

`bench/django.py` times each variant's added CPU, which moves by a few per cent from run to run on
this machine: as much as one cut to reqlog is worth. This one counts instead. Each variant's
process (`python -m bench.django count django VARIANT N`: the same apps, warmed up, then N requests
of one variant, repeatable under valgrind) runs under cachegrind for N=0 and N=400, with a last
level the size of one core's L2 and the span processor's thread kept asleep; the difference over
400 is the variant's count per request, and minus the bare app's, what it adds:

- instructions, and L2 misses (instruction and data): inside a Django request, each step of an
  instrumentation finds its code and data evicted by Django's own work since its last step, so the
  misses are over half of what reqlog costs;
- a cost model, 0.16 ns per instruction plus 16 ns per L2 miss: fitted on reqlog and stock OTel's
  timed figures, it reproduces them and those of other variants within ~5% (docs/django-cost.md, "A
  repeatable measure").

Where objects land in memory moves the misses by ~1 us per variant, so each figure is the mean
over hash seeds (`REQLOG_MODEL_SEEDS`, default 0 and 1). Where code lands moves too, with any edit
of the package: a build carries an offset of a few us that the seeds do not average out, so the
model settles a change of ~5 us or more (docs/django-cost.md). Needs valgrind (`make bench-model`
installs it) and `.venv-peers`; ~2 minutes per seed on two cores. `python -m bench.django_model`.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from .common import report
from .django_rounds import PEERS_PYTHON

VARIANTS = ("bare", "reqlog", "otel")
REQUESTS = 400
NS_PER_INSTRUCTION = 0.16
NS_PER_L2_MISS = 16.0
# One core of this machine: 32 KiB first-level caches, 1 MiB L2 (the simulated last level).
CACHES = ["--I1=32768,8,64", "--D1=32768,8,64", "--LL=1048576,8,64"]
# No export, so the span processor's thread never wakes in the window (spans just queue).
ASLEEP = {
    "OTEL_BSP_MAX_QUEUE_SIZE": "100000",
    "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "100000",
    "OTEL_BSP_SCHEDULE_DELAY": "100000000",
}


def counts(variant: str, requests: int, seed: int) -> dict[str, int]:
    """cachegrind's totals for one `count` process: event name -> count."""
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) / "cachegrind.out"
        command = ["valgrind", "--tool=cachegrind", "--cache-sim=yes", *CACHES, f"--cachegrind-out-file={out}"]
        command += [str(PEERS_PYTHON), "-m", "bench.django", "count", "django", variant, str(requests)]
        if shutil.which("setarch"):  # the same addresses run after run
            command = ["setarch", "-R", *command]
        mine = {key: value for key, value in os.environ.items() if not key.startswith(("OTEL_", "REQLOG_"))}
        env = {**mine, **ASLEEP, "PYTHONHASHSEED": str(seed)}
        subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        lines = out.read_text().splitlines()
    events = next(line for line in lines if line.startswith("events:")).split()[1:]
    totals = next(line for line in lines if line.startswith("summary:")).split()[1:]
    return dict(zip(events, map(int, totals), strict=True))


def per_request(seed: int) -> dict[str, dict[str, float]]:
    """Each variant's instructions and L2 misses per request, in the process of that seed."""
    jobs = [(variant, n) for variant in VARIANTS for n in (0, REQUESTS)]
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        found = dict(zip(jobs, pool.map(lambda job: counts(job[0], job[1], seed), jobs), strict=True))
    result = {}
    for variant in VARIANTS:
        done, start = found[(variant, REQUESTS)], found[(variant, 0)]
        result[variant] = {
            "instructions": (done["Ir"] - start["Ir"]) / REQUESTS,
            "l2_misses": (done["ILmr"] + done["DLmr"] - start["ILmr"] - start["DLmr"]) / REQUESTS,
        }
    return result


def added(run: dict[str, dict[str, float]], variant: str) -> dict[str, float]:
    """What `variant` adds to the bare app per request, and its modelled cost in microseconds."""
    more = {key: run[variant][key] - run["bare"][key] for key in ("instructions", "l2_misses")}
    more["us"] = (more["instructions"] * NS_PER_INSTRUCTION + more["l2_misses"] * NS_PER_L2_MISS) / 1000
    return more


def main() -> None:
    if not shutil.which("valgrind") or not PEERS_PYTHON.exists():
        print("needs valgrind and .venv-peers: `make bench-model` installs both", file=sys.stderr)
        raise SystemExit(1)
    seeds = [int(seed) for seed in os.environ.get("REQLOG_MODEL_SEEDS", "0 1").split()]
    runs = [per_request(seed) for seed in seeds]
    rows: list[dict[str, Any]] = []
    model: dict[str, float] = {}
    for variant in VARIANTS[1:]:
        each = [added(run, variant) for run in runs]
        model[variant] = statistics.mean(a["us"] for a in each)
        rows.append(
            {
                "variant": variant,
                "added instructions": round(statistics.mean(a["instructions"] for a in each)),
                "added L2 misses": round(statistics.mean(a["l2_misses"] for a in each)),
                "model us": round(model[variant], 1),
                "per seed us": " ".join(f"{a['us']:.1f}" for a in each),
            }
        )
    ratio = model["reqlog"] / model["otel"]
    goal = {
        "goal": "django: reqlog's added cost / stock OTel's, modelled (the timed goal's target)",
        "value": round(ratio, 3),
        "target": "<= 0.35",
        "ok": ratio <= 0.35,
        "seeds": seeds,
    }
    report("django_model", rows, goals=[goal])


if __name__ == "__main__":
    main()
