"""A bounded cache of recently written rows, served as the API's rendered JSON bytes.

A full-row point lookup in DuckDB costs milliseconds (a columnar engine reads every column
separately), while most reads ask for rows written moments ago. So the writer hands every stored
batch to `RecentCache.add` and the retrieve view answers from here first, with no thread hop. A row
is kept as its values and rendered on its first read (then kept rendered): rendering every row as
it was written cost the writer about a third of the OTLP ingest rate (`bench/ingest.py`), and most
rows are never read. The limit is in bytes; the oldest entries go first. Pruning must `discard`
what it deleted so the cache never serves a row the store no longer has.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import duckdb

from exporter.log_store import LogStore
from exporter.row import COLUMN, COLUMN_NAMES, render_json
from exporter.store_unreadable import has_notes

_ID, _STARTED_AT, _CREATED_AT = COLUMN.id, COLUMN.started_at, COLUMN.created_at
# Bookkeeping per entry beyond the JSON bytes (dict slot, tuple, int and datetimes), roughly.
_OVERHEAD = 200
_Entry = tuple[bytes | tuple[Any, ...], int, datetime | None, datetime | None]


class RecentCache:
    """Request-log id -> rendered JSON bytes, at most `max_bytes` in all (0 disables it).

    `add` may run on any thread (the writer's); `get` is a lock-free dictionary read.
    """

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        # id -> (rendered JSON, or the row's values until its first read; its size; started_at; created_at)
        self._entries: OrderedDict[int, _Entry] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, request_id: int) -> bool:
        """Whether the row is cached (without reading it, which would render it)."""
        return request_id in self._entries

    @property
    def nbytes(self) -> int:
        """Bytes held, counting the JSON and a per-entry overhead estimate."""
        return self._bytes

    def get(self, request_id: int) -> bytes | None:
        """The rendered row, or `None` when it is not cached (ask the store)."""
        entry = self._entries.get(request_id)
        if entry is None:
            self.misses += 1
            return None
        self.hits += 1
        if isinstance(entry[0], bytes):
            return entry[0]
        body = render_json(entry[0])
        with self._lock:
            if self._entries.get(request_id) is entry:  # not evicted or replaced meanwhile
                self._entries[request_id] = (body, len(body) + _OVERHEAD, entry[2], entry[3])
                self._bytes += len(body) + _OVERHEAD - entry[1]
                self._evict()
        return body

    def add(self, value_tuples: Iterable[tuple[Any, ...]]) -> None:
        """Cache stored rows, given as values in column order (what `insert_rows` returns).

        Rows should come in id order; the oldest entries are evicted past `max_bytes`.
        """
        if self.max_bytes <= 0:
            return
        entries = [(v[_ID], (v, approximate_size(v), v[_STARTED_AT], v[_CREATED_AT])) for v in value_tuples]
        with self._lock:
            for request_id, entry in entries:
                old = self._entries.pop(request_id, None)
                if old is not None:
                    self._bytes -= old[1]
                self._entries[request_id] = entry
                self._bytes += entry[1]
            self._evict()

    def _evict(self) -> None:
        """Drop the oldest entries while over the budget (the caller holds the lock)."""
        while self._bytes > self.max_bytes and self._entries:
            _, evicted = self._entries.popitem(last=False)
            self._bytes -= evicted[1]

    def discard(self, request_ids: Iterable[int]) -> int:
        """Drop these ids (rows deleted from the store); return how many were cached."""
        dropped = 0
        with self._lock:
            for request_id in request_ids:
                entry = self._entries.pop(request_id, None)
                if entry is not None:
                    self._bytes -= entry[1]
                    dropped += 1
        return dropped

    def discard_before(self, cutoff: datetime, *, column: str = "started_at") -> int:
        """Drop rows whose `started_at` (or `created_at`) is before the naive-UTC `cutoff`.

        Rows with no such time are dropped too (a prune by time would have deleted them or not:
        the store will answer). Returns how many were dropped.
        """
        if column not in ("started_at", "created_at"):
            raise ValueError(f"column must be started_at or created_at, not {column!r}")
        by_start = column == "started_at"
        with self._lock:
            doomed = []
            for request_id, (_, _, started_at, created_at) in self._entries.items():
                moment = started_at if by_start else created_at
                if moment is None or moment < cutoff:
                    doomed.append(request_id)
        return self.discard(doomed)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = 0


_WARM_BATCH = 2_000


def warm(store: LogStore, cache: RecentCache, *, step_bytes: int, max_seconds: float = 0.0) -> str | None:
    """Fill `cache` with the newest stored rows, up to its byte budget and for at most `max_seconds`.

    Rows are read in steps of at most `step_bytes` (and never more than the budget left), so the
    warm-up's memory is bounded by bytes, not by a row count: 700 rows of 2 MB once took a single
    1.4 GB read and kept the service from starting. It is bounded by time too (`max_seconds`, 0:
    no limit; checked after each step, so one step always runs): on such rows DuckDB refuses the
    memory of a batched read and the rows come one query each, which took minutes while the
    service did not answer; the writer fills the cache anyway. A read DuckDB refuses outright
    (700 incompressible 2 MB bodies: even one row's query asks more than the 1 GB limit) ends
    the warm-up too, with the rows read so far, rather than the service's start.

    Returns why it stopped before the byte budget or the oldest row, or `None`.
    """
    deadline = time.monotonic() + max_seconds if max_seconds > 0 else None
    rows: list[tuple[Any, ...]] = []
    total = 0
    before = None
    stopped = None
    while total < cache.max_bytes:
        if deadline is not None and rows and time.monotonic() >= deadline:
            stopped = f"at its time limit of {max_seconds:g} s (REQLOG_WARM_CACHE_SECONDS)"
            break
        budget = max(1024, min(step_bytes, cache.max_bytes - total))
        try:
            batch, _ = store.list_page(before_id=before, limit=_WARM_BATCH, max_bytes=budget)
        except duckdb.Error as exc:
            stopped = f"on a read DuckDB refused: {str(exc).splitlines()[0]}"
            break
        if not batch:
            break
        unreadable = next((at for at, values in enumerate(batch) if has_notes(values)), None)
        if unreadable is not None:  # a row read with notes in place of values is not cached
            rows.extend(batch[:unreadable])
            stopped = "at a row DuckDB could not read in full within REQLOG_MEMORY_LIMIT"
            break
        rows.extend(batch)
        total += sum(approximate_size(values) for values in batch)
        before = batch[-1][0]
    cache.add(reversed(rows))
    return stopped


def approximate_size(values: tuple[Any, ...]) -> int:
    """What a row not yet rendered counts against the cache's budget: its text plus per-column bookkeeping."""
    return _OVERHEAD + sum(len(v) for v in values if isinstance(v, str)) + 12 * len(COLUMN_NAMES)
