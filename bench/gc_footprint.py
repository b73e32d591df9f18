"""What a variant's requests leave to Python's cyclic GC, counted rather than timed.

Timing the GC per block charges each collection to whichever block it lands in, and a full
collection of a Django heap (~45 ms for ~80,000 tracked objects) lands in few blocks: its figure
moves by tens of microseconds a request from run to run and says nothing about the cause. What
drives collections is countable, and the same on a loaded and an idle machine:

- `tracked_per_request`: GC-tracked objects a request leaves allocated (the net change of the
  youngest generation's counter with collection paused). The youngest generation is collected every
  700 of them, so this sets how often collections run.
- `promoted_per_request`: objects a request moves into the oldest generation (they survived two
  collections: spans waiting in the BatchSpanProcessor's queue for its next export, cyclic garbage
  caught mid-request). CPython 3.11 runs a full collection once these reach a quarter of the objects
  already there, so this sets how often the whole heap is traversed.
- `cyclic_per_request`: objects only the cyclic GC could free (collected with `DEBUG_SAVEALL`, so
  their types are counted in `cyclic_types`): reference cycles the request created.

Each variant serves more requests for this after its timed blocks; nothing is timed. The first and
last counts take few (100): the span processor exports whatever is queued every 5 s, and an export
inside the window frees spans the count is meant to see (the benchmark takes the median of rounds).
The promotions take many (1,000), since the middle generation is collected only every ~60-350
requests.
"""

from __future__ import annotations

import gc
from collections import Counter
from collections.abc import Callable
from typing import Any


def footprint(
    runners: dict[str, Callable[[], None]], flush: Callable[[], None], requests: int, promotions: int
) -> dict[str, Any]:
    """The three counts above for each runner, over `requests` requests (`promotions` for the
    promotions); `flush` exports every span still queued."""
    return {name: _one(run, flush, requests, promotions) for name, run in runners.items()}


def _one(run: Callable[[], None], flush: Callable[[], None], requests: int, promotions: int) -> dict[str, Any]:
    flush()
    gc.collect()
    thresholds = gc.get_threshold()
    gc.disable()
    try:
        before = gc.get_count()[0]
        for _ in range(requests):
            run()
        tracked = (gc.get_count()[0] - before) / requests
        flush()  # what is left now is what only the cyclic GC frees
        gc.set_debug(gc.DEBUG_SAVEALL)
        try:
            cyclic = gc.collect()
            kinds = Counter(type(item).__name__ for item in gc.garbage)
        finally:
            gc.set_debug(0)
            gc.garbage.clear()
    finally:
        gc.enable()
    promoted = _promoted(run, promotions, thresholds)
    return {
        "tracked_per_request": round(tracked, 1),
        "promoted_per_request": round(promoted, 2),
        "cyclic_per_request": round(cyclic / requests, 1),
        "cyclic_types": {name: count / requests for name, count in kinds.most_common(40)},
    }


def _promoted(run: Callable[[], None], requests: int, thresholds: tuple[int, int, int]) -> float:
    """Objects moved into the oldest generation per request, with the usual young collections running.

    Full collections are held off meanwhile (they would empty the count being taken); the size of
    the oldest generation is read around each collection of the middle one, which is what moves
    objects there.
    """
    moved = [0]
    size_before = [0]

    def on_gc(phase: str, info: dict[str, int]) -> None:
        if info["generation"] != 1:
            return
        size = len(gc.get_objects(generation=2))
        if phase == "start":
            size_before[0] = size
        else:
            moved[0] += max(0, size - size_before[0])

    gc.collect()
    gc.set_threshold(thresholds[0], thresholds[1], 1_000_000_000)
    gc.callbacks.append(on_gc)
    try:
        for _ in range(requests):
            run()
    finally:
        gc.callbacks.remove(on_gc)
        gc.set_threshold(*thresholds)
    return moved[0] / requests
