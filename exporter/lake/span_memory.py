"""A writer's memory of the spans it stored recently: span key -> request id, bounded in entries.

The single file refuses a stored span again through a UNIQUE index; DuckLake has none. Retries of
a batch reach the same writer (the gateway routes by trace id), so the writer remembering what it
stored, and rebuilding that memory from the lake when it starts, catches a retry even after it
committed and was killed before answering. The id lets a hit be confirmed cheaply: two different
spans whose ids hash alike are no duplicate (the lookup by id opens one file).
"""

from __future__ import annotations

import collections
from collections.abc import Iterable

import duckdb
import pyarrow as pa

from ..schema import SPAN_KEY, TABLE


class SpanMemory:
    """The `capacity` most recently stored span keys, oldest forgotten first."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._ids: collections.OrderedDict[int, int] = collections.OrderedDict()

    def __len__(self) -> int:
        return len(self._ids)

    def get(self, key: int) -> int | None:
        return self._ids.get(key)

    def remember(self, pairs: Iterable[tuple[int | None, int]]) -> None:
        """Remember `(span_key, id)` pairs (keys that are None, spans without ids, are skipped)."""
        if self.capacity <= 0:
            return
        ids = self._ids
        for key, request_id in pairs:
            if key is not None:
                ids[key] = request_id
                ids.move_to_end(key)
        while len(ids) > self.capacity:
            ids.popitem(last=False)


def recall(cursor: duckdb.DuckDBPyConnection, memory: SpanMemory) -> int:
    """Fill `memory` from the newest rows of every writer (a restart forgets nothing recent)."""
    if memory.capacity <= 0:
        return 0
    found = cursor.execute(
        f"SELECT {SPAN_KEY}, id FROM {TABLE} WHERE {SPAN_KEY} IS NOT NULL ORDER BY id DESC LIMIT ?",
        [memory.capacity],
    ).fetchall()
    memory.remember(reversed(found))
    return len(found)


def not_stored(
    cursor: duckdb.DuckDBPyConnection, memory: SpanMemory, table: pa.Table, keys: list[int | None]
) -> tuple[list[bool], list[int | None]]:
    """Which rows of `table` to store, and the keys of those.

    A span repeated in the batch (a retry queued beside its first try: one group commit takes both)
    is stored once; a span `memory` holds is confirmed against the lake by id. Two different spans
    whose ids hash alike are both stored, the later one without a key: never dropped.
    """
    present = [key for key in keys if key is not None]
    repeated = len(set(present)) != len(present)
    hits = {i: request_id for i, key in enumerate(keys) if key is not None and (request_id := memory.get(key))}
    if not hits and not repeated:
        return [True] * len(keys), keys
    trace_ids, span_ids = table.column("trace_id").to_pylist(), table.column("span_id").to_pylist()
    keep = [True] * len(keys)
    out = list(keys)
    if repeated:
        first: dict[int, tuple[object, object]] = {}
        for i, key in enumerate(keys):
            if key is not None:
                ids = (trace_ids[i], span_ids[i])
                earlier = first.setdefault(key, ids)
                if earlier is not ids:
                    if earlier == ids:
                        keep[i] = False
                    else:
                        out[i] = None
    stored = (
        {
            row[0]: (row[1], row[2])
            for row in cursor.execute(
                f"SELECT id, trace_id, span_id FROM {TABLE} WHERE list_contains(?, id)", [list(hits.values())]
            ).fetchall()
        }
        if hits
        else {}
    )
    for i, request_id in hits.items():
        ids_of_stored = stored.get(request_id)
        if ids_of_stored == (trace_ids[i], span_ids[i]):
            keep[i] = False
        elif ids_of_stored is not None:
            out[i] = None
    return keep, [key for key, kept in zip(out, keep, strict=True) if kept]
