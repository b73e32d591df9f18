"""The global in-flight byte budget of OTLP ingest: bytes of requests being read, decoded or written.

Each request may be as large as `ingest_max_bytes` (128 MiB by default, so a stock SDK's 512-span
batch with two 64 KiB bodies a span fits), but many of them at once would not fit in memory. So
every request charges the bytes it has read to one budget (`ingest_inflight_bytes`) and gives them
back when it is answered. A request that would pass the budget gets 503 with `Retry-After`, which
the stock OpenTelemetry exporters retry (Python: up to 6 tries within its 10 s timeout, honouring
`Retry-After`; JavaScript: 429/502/503/504); nothing of it was stored, so the retry loses nothing.

A request alone is always admitted (the budget is at least `ingest_max_bytes`, checked in
settings): no request is refused forever.
"""

from __future__ import annotations

import threading

from exporter.errors import RequestLogError


class OverBudget(RequestLogError):
    """The budget has no room for these bytes now; retry later."""


class ByteBudget:
    """`limit` bytes shared by the requests in flight. Thread-safe; `charge` never blocks."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._used = 0
        self._lock = threading.Lock()
        self.peak = 0  # the most bytes ever charged at once (the status endpoint shows it)

    @property
    def used(self) -> int:
        return self._used

    def charge(self, nbytes: int, *, held: int) -> None:
        """Charge `nbytes` more to a request already holding `held`; raises `OverBudget`.

        The charge is refused when the total would pass `limit`, unless the request would then be
        the only one in flight (its own size is capped by `ingest_max_bytes`).
        """
        with self._lock:
            total = self._used + nbytes
            if total > self.limit and self._used > held:
                raise OverBudget(f"{self._used} bytes of OTLP requests are in flight (limit {self.limit})")
            self._used = total
            self.peak = max(self.peak, total)

    def release(self, nbytes: int) -> None:
        with self._lock:
            self._used -= nbytes
