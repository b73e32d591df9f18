"""`RowFetcher`: retrieve-by-id lookups, coalesced into one store query when they arrive together.

A DuckDB point query pays a fixed cost (planning, a scan set up over every column) that dwarfs
reading one row, so concurrent retrieves share queries: whenever a reader slot is free, the ids
waiting at that moment go to the store together (`get_many_values`, up to `max_batch`). Nothing
waits for a batch to fill: a lone request is looked up at once, alone, so single-client latency is
that of one query. Rows are rendered on the reader thread, off the event loop.
"""

from __future__ import annotations

import asyncio
import functools

from exporter.log_store import LogStore
from exporter.row import render_json
from query_api.readpool import ReadPool

Batch = dict[int, list["asyncio.Future[bytes | None]"]]


class RowFetcher:
    """Fetch rendered rows by id through `pool`, at most `pool.threads` store queries at a time."""

    def __init__(self, store: LogStore, pool: ReadPool, *, max_batch: int = 32) -> None:
        self._store = store
        self._pool = pool
        self._max_batch = max_batch
        self._waiting: Batch = {}
        self._running = 0
        self.queries = 0  # store queries made, for tests and the benchmark

    async def get(self, request_id: int) -> bytes | None:
        """The row's API JSON, or `None` when no row has that id. Store errors propagate."""
        future: asyncio.Future[bytes | None] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(request_id, []).append(future)
        self._dispatch()
        return await future

    def _dispatch(self) -> None:
        while self._waiting and self._running < self._pool.threads:
            ids = list(self._waiting)[: self._max_batch]
            batch = {request_id: self._waiting.pop(request_id) for request_id in ids}
            self._running += 1
            task = asyncio.ensure_future(self._pool.run(_fetch, self._store, ids))
            task.add_done_callback(functools.partial(self._settle, batch))

    def _settle(self, batch: Batch, task: asyncio.Future[dict[int, bytes]]) -> None:
        self._running -= 1
        self.queries += 1
        error = task.exception()
        for request_id, futures in batch.items():
            for future in futures:
                if future.done():
                    continue  # the client went away
                if error is not None:
                    future.set_exception(error)
                else:
                    future.set_result(task.result().get(request_id))
        self._dispatch()


def _fetch(store: LogStore, ids: list[int]) -> dict[int, bytes]:
    return {request_id: render_json(values) for request_id, values in store.get_many_values(ids).items()}
