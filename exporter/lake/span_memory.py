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
