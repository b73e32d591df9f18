"""Django + DRF under WSGI, one process, beside its peers: what each adds to a request.

Each variant runs in its own process (Django is configured once per process, and stock OTel needs
other packages), which builds two handlers from the same settings, the bare app and the app with
the variant, and times them in alternating blocks: the machine's noise hits both alike, and the
variant's added cost is the difference of their medians. Rounds repeat this in a shuffled order
and the figure is the median over rounds. Variants:

- `bare`: the DRF app alone;
- `reqlog`: `RequestLogWSGIMiddleware` plus `RequestLogDjangoMiddleware` (user and route);
- `otel`: stock `opentelemetry-instrumentation-django` with `.*` request and response header capture
  (as reqlog captures every header; the same for Flask's);
- `drf_api_logger`: drf-api-logger with its defaults plus database logging (its background writes);
- `silk`: django-silk with its defaults.

Stock OTel's Django and Flask instrumentations pin older OpenTelemetry packages than reqlog needs,
so their variants run in a separate environment, `.venv-peers` (`make bench` builds it). Both
OTel variants end in the same TracerProvider (default limits), BatchSpanProcessor and an exporter
that only counts, so the figure is the request-path cost. The request: an authenticated (DRF
token) JSON POST that a serializer validates, answered 201. Then the same for Flask: bare, reqlog,
stock `opentelemetry-instrumentation-flask`.

The cost is CPU time of the whole process (`time.process_time`: the request thread plus the span
processor's and drf-api-logger's background threads), since on a shared machine wall time mostly
measures other processes; the wall-clock figure is reported beside it. Each block of the variant is
paired with the bare block before it and the added cost is the median of those differences, so a
load that drifts over seconds cancels. Every variant is checked to have done its work: each
request's span exported, or the peer's rows in its database, and what the last request left there
(headers, bodies, user, ...) is listed as what that variant captures.

The cyclic GC's young collections are timed per block too ("added young-GC us": the variant's
time per request in collections of the two young generations, minus the bare app's, in the same
process). Full collections are not timed per block: one takes ~45 ms of this Django heap and lands
in whichever block crosses the threshold, whoever filled it. What fills it is counted instead
(`gc_footprint.py`, untimed, after the timed rounds): the GC-tracked objects a request leaves
allocated, those it moves into the oldest generation (whose count triggers full collections), and
those only the cyclic GC frees (reference cycles), each as the variant's excess over the bare app.

`python -m bench django`; REQLOG_BENCH_QUICK=1 for a smoke run. Instruction counts, which a shared
machine's load does not move: `python -m bench.django count django VARIANT N` builds the same
process (the variant's group, each app warmed up) and then serves N requests of that variant only
(`bare` too); run it under `valgrind --tool=cachegrind --cache-sim=yes` with PYTHONHASHSEED=0 for
N=0 and N=400, and the difference over 400 is the variant's count per request
(docs/instrumentation.md, "Cost"). With a last level the size of one core's L2 and the span
processor's thread kept asleep, its instructions and L2 misses give a cost model that repeats to
~0.5 us and matches the timed figures: `bench/django_model.py` (docs/django-cost.md, "A repeatable
measure").

The modules: `django_apps` (the apps and variants), `django_timing` (the interleaved blocks),
`django_captures` (what each variant captured), `django_rounds` (the rounds, each group in its own
process); this one prints the tables and checks the goals.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

from .common import median, report
from .django_apps import run_django, run_flask
from .django_rounds import PEERS_PYTHON, PROCESSES, measure_rounds


def main() -> None:
    if len(sys.argv) == 5 and sys.argv[1] == "count":  # count FRAMEWORK VARIANT N: see the module's doc
        framework, only, count = sys.argv[2], sys.argv[3], int(sys.argv[4])
        group = next(g for g in PROCESSES[framework] if only in g) if only != "bare" else PROCESSES[framework][0]
        (run_django if framework == "django" else run_flask)(list(group), count, only)
        return
    if len(sys.argv) == 4:  # one group of variants, in its own process
        framework, variants, count = sys.argv[1], sys.argv[2].split(","), int(sys.argv[3])
        print(json.dumps((run_django if framework == "django" else run_flask)(variants, count)))
        return
    if not PEERS_PYTHON.exists():
        print(f"{PEERS_PYTHON} is missing: `make bench` builds it", file=sys.stderr)
        raise SystemExit(1)
    goals = []
    print("load average at start (1, 5, 15 min): {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    for framework in PROCESSES:
        bare, added, ratios = measure_rounds(framework)
        bare_counts = added.pop("bare")
        otel = added["otel"]["cpu"]
        rows: list[dict[str, Any]] = [
            {
                "variant": "bare",
                "CPU us": round(bare, 1),
                "added CPU us": 0.0,
                "added / otel's": None,
                "added wall us": 0.0,
                "added young-GC us": 0.0,
                "GC-tracked left": bare_counts["tracked"],
                "to oldest gen": bare_counts["promoted"],
                "captures": None,
            }
        ]
        rows += [
            {
                "variant": variant,
                "CPU us": round(bare + cost["cpu"], 1),
                "added CPU us": round(cost["cpu"], 1),
                "added / otel's": round(cost["cpu"] / otel, 2),
                "added wall us": round(cost["wall"], 1),
                "added young-GC us": round(cost["gc"], 1),
                "GC-tracked left": round(cost["tracked"], 1),
                "to oldest gen": round(cost["promoted"], 2),
                "captures": len(cost["captures"]),
            }
            for variant, cost in sorted(added.items(), key=lambda item: item[1]["cpu"])
        ]
        report(f"{framework}_wsgi", rows)
        for variant, cost in added.items():
            print(f"  {variant} captures: {', '.join(cost['captures'])}")
        print("  GC-tracked left, to oldest gen: per request, the bare app's, then what each variant adds to it")
        print(f"  only the cyclic GC freed, per request: bare {bare_counts['cyclic']:g} objects", end="")
        print("".join(f"; {variant} {', '.join(cost['cyclic_types'][:4])}" for variant, cost in added.items()))
        print(f"  reqlog / otel per round (same process): {', '.join(f'{r:.2f}' for r in ratios)}")
        reqlog = added["reqlog"]
        peers = {variant: cost for variant, cost in added.items() if variant != "reqlog"}
        target = 0.35 if framework == "django" else 1.0
        ratio = median(ratios)
        goals += [
            {
                "goal": f"{framework}: reqlog's added CPU cost / stock OTel's (median of rounds)",
                "value": round(ratio, 2),
                "target": f"<= {target}",
                "ok": ratio <= target,
                "per_round": [round(r, 3) for r in ratios],
            },
            {
                "goal": f"{framework}: reqlog adds less than every peer",
                "value": round(reqlog["cpu"], 1),
                "target": f"< {round(min(cost['cpu'] for cost in peers.values()), 1)}",
                "ok": all(reqlog["cpu"] < cost["cpu"] for cost in peers.values()),
            },
            {
                "goal": f"{framework}: reqlog captures all each peer does (SQL aside) and more",
                "value": len(reqlog["captures"]),
                "target": f"> {max(len(cost['captures']) for cost in peers.values())}",
                "ok": all(set(cost["captures"]) - {"SQL"} < set(reqlog["captures"]) for cost in peers.values()),
            },
        ]
    print("load average at end (1, 5, 15 min): {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    report("django_peers", [], goals=goals)


if __name__ == "__main__":
    main()
