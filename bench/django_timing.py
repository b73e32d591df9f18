"""Timing a WSGI app's requests against the bare app's in one process, for `bench/django.py`.

Each app's request is made as a sync WSGI server makes it (call, iterate, close), warmed up and
checked first; the apps then take turns in blocks, so the machine's noise hits them alike and a
variant's added cost is the median of its blocks' differences from the bare app's.
"""

from __future__ import annotations

import gc
import io
import json
import random
import sys
import time
from collections.abc import Callable
from typing import Any

from .common import QUICK, median
from .django_captures import Spans
from .gc_footprint import footprint

_WARM_UP = 30  # requests through each app before timing
_BLOCK = 25  # requests per timed block
_GC_REQUESTS = (50, 200) if QUICK else (100, 1000)  # per variant, for the GC counts (gc_footprint.py)
TOKEN = "0123456789abcdef0123456789abcdef01234567"
BODY = json.dumps({"item": "tea", "quantity": 2, "note": "x" * 200}).encode()


def _environ(path: str, headers: dict[str, str]) -> dict[str, Any]:
    env = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": path,
        "QUERY_STRING": "page=1",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(BODY)),
        "HTTP_HOST": "127.0.0.1:8000",
        "HTTP_USER_AGENT": "Mozilla/5.0 (X11; Linux x86_64; rv:145.0) Gecko/20100101 Firefox/145.0",
        "HTTP_ACCEPT": "application/json",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(BODY),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    env.update({"HTTP_" + k.upper().replace("-", "_"): v for k, v in headers.items()})
    return env


def runner(app: Callable[..., Any], path: str, headers: dict[str, str], expect: int) -> Callable[[], None]:
    """One request as a sync WSGI server makes it (call, iterate, close); checked, then warmed up."""
    statuses: list[str] = []

    def start_response(status: str, response_headers: Any, exc_info: Any = None) -> Any:
        statuses.append(status)
        return lambda data: None

    def one() -> None:
        result = app(_environ(path, headers), start_response)
        for _ in result:
            pass
        close = getattr(result, "close", None)
        if close is not None:
            close()

    for _ in range(_WARM_UP):
        one()
    assert statuses[-1].startswith(str(expect)), statuses[-1]
    return one


def through_variant(count: int) -> int:
    """Requests each variant's app served: its warm-up and its timed blocks."""
    return _WARM_UP + max(2, count // _BLOCK) * _BLOCK


def _interleave(runners: dict[str, Callable[[], None]], count: int) -> dict[str, Any]:
    """Microseconds per request, timed in blocks of 25 that take turns (`bare` first in `runners`).

    One turn is a block of each app, in an order that rotates from turn to turn; a variant's added
    cost is the median over turns of (its block - the bare block of the same turn), CPU and wall.
    The cyclic GC's collections and their CPU time are charged to the block they ran in (all
    variants share one heap, so a collection may also sweep another variant's garbage). Only the
    young generations' time is summed: a full collection (~45 ms of a Django heap, one every ~1,500
    requests of this app) is counted, not timed, since where it lands says nothing about who caused
    it (`gc_footprint` counts what does).
    """
    names = list(runners)
    cpu: dict[str, list[float]] = {name: [] for name in names}
    wall: dict[str, list[float]] = {name: [] for name in names}
    gc_seconds = dict.fromkeys(names, 0.0)
    collections = {name: [0, 0, 0] for name in names}
    running = {"name": names[0], "start": 0.0}

    def on_gc(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            running["start"] = time.process_time()
        else:
            if info["generation"] < 2:
                gc_seconds[str(running["name"])] += time.process_time() - float(running["start"])
            collections[str(running["name"])][info["generation"]] += 1

    turns = max(2, count // _BLOCK)
    gc.callbacks.append(on_gc)
    try:
        for turn in range(turns):
            shift = turn % len(names)
            for name in names[shift:] + names[:shift]:
                run = runners[name]
                running["name"] = name
                cpu_start, wall_start = time.process_time(), time.perf_counter()
                for _ in range(_BLOCK):
                    run()
                cpu[name].append((time.process_time() - cpu_start) / _BLOCK * 1e6)
                wall[name].append((time.perf_counter() - wall_start) / _BLOCK * 1e6)
    finally:
        gc.callbacks.remove(on_gc)

    def added(times: dict[str, list[float]], name: str) -> float:
        return median([v - b for b, v in zip(times["bare"], times[name], strict=True)])

    served = turns * _BLOCK
    gc_cost = {
        name: {
            "gc_us": gc_seconds[name] / served * 1e6,
            "collections_per_1000": [round(n * 1000 / served, 1) for n in collections[name]],
        }
        for name in names
    }
    return {
        "bare": median(cpu["bare"]),
        "bare_wall": median(wall["bare"]),
        "bare_gc": gc_cost["bare"],
        "variants": {
            name: {"added": added(cpu, name), "added_wall": added(wall, name), **gc_cost[name]} for name in names[1:]
        },
    }


def measure(
    runners: dict[str, Callable[[], None]], count: int, spans: dict[str, Spans], only: str | None
) -> dict[str, Any]:
    """The timed rounds, then the GC counts (untimed); with `only` (`count` mode), `count` requests
    of that variant, then exit (for valgrind)."""
    if only is None:
        result = _interleave(runners, count)

        def flush() -> None:
            for each in spans.values():
                each.provider.force_flush()

        result["gc_counts"] = footprint(runners, flush, *_GC_REQUESTS)
        return result
    # Repeatable under valgrind: no random draw, no thread switch forced by a timer (the span
    # processor's thread then runs only when this one waits), no full collection in the window.
    random.seed(0)
    sys.setswitchinterval(100)
    gc.set_threshold(700, 10, 1_000_000)
    run = runners[only]
    for _ in range(count):
        run()
    raise SystemExit(0)
