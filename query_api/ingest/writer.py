"""The single writer: one thread drains a bounded queue of row batches and group-commits them.

DuckDB's commit costs a WAL write plus an fdatasync, ~1 ms plus a few microseconds a row
(docs/design-notes.md), so a commit per OTLP request would cap ingest at a few hundred requests a second.
Here every batch that arrives while a transaction runs waits in the queue, and the next transaction
takes all of them: concurrent requests share one commit. Each request's future is resolved only
after COMMIT returned, so the receiver sends its 2xx once the rows are durable.

The queue is bounded in rows, counting the rows being written: when it is full `submit` raises
`WriterBusy` at once (the receiver answers 503 with Retry-After) instead of letting memory grow.
A batch bigger than the whole bound is still accepted when nothing else is queued, so no request
is refused forever.
"""

from __future__ import annotations

import collections
import concurrent.futures
import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, cast

import pyarrow as pa

from exporter.errors import RequestLogError, StorageError
from exporter.isolation import Outcome, insert_isolating, refused_by_value
from exporter.log_store import LogStore
from exporter.store import RequestLogStore

logger = logging.getLogger(__name__)

StoredValues = list[tuple[Any, ...]]


class WriterBusy(RequestLogError):
    """The queue is full; the caller should retry after a moment."""


class WriterClosed(RequestLogError):
    """The writer is shutting down and takes no more batches."""


class _Item:
    __slots__ = ("future", "table", "written")

    def __init__(self, table: pa.Table) -> None:
        self.table = table
        self.written = 0  # rows the file gained from this batch, once committed
        self.future: concurrent.futures.Future[int] = concurrent.futures.Future()


class Writer:
    """Write Arrow batches (columns of `exporter.store.rows_to_arrow`) to `store` from one thread.

    `max_queued_rows` bounds the rows waiting or being written; `max_batch_rows` caps one
    transaction. `on_commit(stored_values)` runs on the writer thread after each commit and before
    the batch's futures resolve (the service uses it to fill its recent-rows cache); its errors
    are logged, never raised. Without it, the insert skips RETURNING.
    """

    def __init__(
        self,
        store: LogStore,
        *,
        max_queued_rows: int = 100_000,
        max_batch_rows: int = 20_000,
        on_commit: Callable[[StoredValues], None] | None = None,
    ) -> None:
        self._store = store
        self._max_queued = max_queued_rows
        self._max_batch = max_batch_rows
        self._on_commit = on_commit
        self._queue: collections.deque[_Item] = collections.deque()
        self._pending = 0  # rows queued or in the transaction being written
        self._cond = threading.Condition()
        self._closing = False
        self._thread: threading.Thread | None = None
        # Counters, read by tests, the benchmark and the stats endpoint; written by the writer thread.
        self.transactions = 0
        self.rows_written = 0  # rows the file gained: spans already stored are not counted
        self.duplicates = 0  # spans of committed batches that were already stored (client retries)
        self.failures = 0
        # For readiness and metrics (`query_api.ops`): when the transaction now running began (monotonic
        # seconds, None when idle), the last failure's text (None once a commit succeeds again), and a
        # callable given each transaction's seconds.
        self.busy_since: float | None = None
        self.last_error: str | None = None
        self.commit_observer: Callable[[float], None] | None = None

    @property
    def pending_rows(self) -> int:
        return self._pending

    @property
    def running(self) -> bool:
        """The writer thread is alive (False before `start` and after `close`)."""
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Start the writer thread (batches submitted before it starts wait, then share a commit)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="reqlog-writer", daemon=True)
            self._thread.start()

    def submit(self, table: pa.Table) -> concurrent.futures.Future[int]:
        """Queue `table` for the next transaction; the future gives the rows the file gained once committed.

        The future fails with `StorageError` if the transaction fails. Raises `WriterBusy` when the
        queue is full and `WriterClosed` after `close()`.
        """
        item = _Item(table)
        rows = table.num_rows
        with self._cond:
            if self._closing:
                raise WriterClosed("the writer is shutting down")
            if self._pending and self._pending + rows > self._max_queued:
                raise WriterBusy(f"{self._pending} rows are waiting to be written")
            self._queue.append(item)
            self._pending += rows
            self._cond.notify()
        return item.future

    def close(self, timeout: float | None = None) -> None:
        """Take no more batches, write every queued one, and stop the thread (idempotent)."""
        with self._cond:
            self._closing = True
            self._cond.notify()
        if self._thread is not None:
            self._thread.join(timeout)
        # Never started (or stuck past `timeout`): whatever is left cannot be written any more.
        with self._cond:
            left, self._queue = list(self._queue), collections.deque()
        for item in left:
            if item.future.set_running_or_notify_cancel():
                item.future.set_exception(WriterClosed("the writer stopped before this batch was written"))

    # -- the writer thread --------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._closing:
                    self._cond.wait()
                if not self._queue:
                    return
                batch: list[_Item] = []
                rows = 0
                while self._queue and (not batch or rows + self._queue[0].table.num_rows <= self._max_batch):
                    item = self._queue.popleft()
                    rows += item.table.num_rows
                    batch.append(item)
            # A request whose client went away has a cancelled future; its rows are still written
            # (a retry of it is deduplicated), there is just nobody to tell.
            live = [item for item in batch if item.future.set_running_or_notify_cancel()]
            self.busy_since = time.monotonic()
            try:
                outcomes = self._write(batch, live)
            except Exception as exc:  # a bug here must not leave requests waiting forever
                logger.exception("writer failed")
                outcomes = [(item, StorageError(f"writer failed: {exc!r}")) for item in live]
            finally:
                self.busy_since = None
                # Room in the queue first, answers second: a client told "stored" may send again at once.
                with self._cond:
                    self._pending -= rows
            for item, error in outcomes:
                if error is None:
                    item.future.set_result(item.written)
                else:
                    item.future.set_exception(error)

    def _write(self, batch: Sequence[_Item], live: Sequence[_Item]) -> list[tuple[_Item, Exception | None]]:
        """Write `batch` in one transaction; the outcome for each item of `live` (None = committed)."""
        try:
            table = batch[0].table if len(batch) == 1 else pa.concat_tables([item.table for item in batch])
            written = self._commit(table)
        except Exception as exc:
            if len(batch) > 1:
                # One bad batch must not fail the requests it was grouped with: write them one by one.
                return [outcome for item in batch for outcome in self._write([item], [item] if item in live else [])]
            if refused_by_value(exc):
                # One request's rows, and DuckDB refused a value: store all the rows but the ones at fault.
                try:
                    self._commit_isolating(batch[0])
                except Exception as again:
                    exc = again
                else:
                    return [(item, None) for item in live]
            self.failures += 1
            self.last_error = str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__
            logger.exception("could not write a batch of %d rows", batch[0].table.num_rows)
            error = exc if isinstance(exc, StorageError) else StorageError(f"write failed: {exc}")
            return [(item, error) for item in live]
        # Spans already stored (client retries) are not written again: the rows missing from the
        # count are charged to the last items, so the requests' counts add up to what the file gained.
        skipped = table.num_rows - written
        outcomes: list[tuple[_Item, Exception | None]] = []
        for item in reversed(batch):
            charged = min(skipped, item.table.num_rows)
            skipped -= charged
            item.written = item.table.num_rows - charged
            if item in live:
                outcomes.append((item, None))
        outcomes.reverse()
        return outcomes

    def _commit_isolating(self, item: _Item) -> None:
        """`_commit` for a batch the store refused a value of (`exporter.isolation`)."""
        # `insert_isolating` is annotated for the DuckDB store; it uses only `insert_table` and `cursor`,
        # which every `LogStore` has.
        store = cast(RequestLogStore, self._store)
        outcome = insert_isolating(store, item.table, Outcome(), returning=self._on_commit is not None)
        self.transactions += outcome.transactions
        self.rows_written += outcome.rows
        item.written = outcome.rows
        for reason in outcome.repaired:
            logger.warning("writer: %s", reason)
        for reason in outcome.rejected:
            logger.error("writer: %s; left out", reason)
        if self._on_commit is not None and outcome.stored:
            try:
                self._on_commit(outcome.stored)
            except Exception:
                logger.exception("on_commit callback failed")

    def _commit(self, table: pa.Table) -> int:
        started = time.perf_counter()
        written, stored = self._store.insert_table(table, returning=self._on_commit is not None)
        if self.commit_observer is not None:
            self.commit_observer(time.perf_counter() - started)
        self.last_error = None
        self.transactions += 1
        self.rows_written += written
        self.duplicates += table.num_rows - written
        if self._on_commit is not None and stored:
            try:
                self._on_commit(stored)
            except Exception:
                logger.exception("on_commit callback failed")
        return written
