"""The single writer on a real DuckDB file: group commit, the bounded queue, failures, shutdown."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from exporter.errors import StorageError
from exporter.row import row_values
from exporter.store import RequestLogStore, values_to_arrow
from query_api.ingest.writer import Writer, WriterBusy, WriterClosed

from .harness import make_row


def batch(first: int, count: int) -> pa.Table:
    return values_to_arrow([row_values(make_row(i)) for i in range(first, first + count)])


@pytest.fixture
def store(db_path: Path) -> Iterator[RequestLogStore]:
    store = RequestLogStore(db_path)
    yield store
    store.close()


class Gate:
    """Holds the writer inside its next insert until `release()`; the insert itself is real."""

    def __init__(self, store: RequestLogStore, monkeypatch: pytest.MonkeyPatch) -> None:
        self.entered = threading.Event()
        self.opened = threading.Event()
        real = store.insert_table

        def gated(table: pa.Table, **kwargs: Any) -> tuple[int, list[tuple[Any, ...]]]:
            self.entered.set()
            assert self.opened.wait(10)
            return real(table, **kwargs)

        monkeypatch.setattr(store, "insert_table", gated)

    def release(self) -> None:
        self.opened.set()


def test_batches_waiting_together_share_one_transaction(store: RequestLogStore) -> None:
    committed: list[list[tuple[Any, ...]]] = []
    writer = Writer(store, on_commit=committed.append)
    futures = [writer.submit(batch(i * 10, 10)) for i in range(5)]  # queued before the thread runs
    writer.start()
    assert [f.result(10) for f in futures] == [10] * 5
    writer.close()
    assert writer.transactions == 1 and store.count() == 50
    assert [len(values) for values in committed] == [50]  # stored rows handed over once, ids assigned
    assert all(values[0] is not None for values in committed[0])


def test_a_batch_is_committed_before_its_future_resolves(store: RequestLogStore, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    gate = Gate(store, monkeypatch)
    writer = Writer(store)
    writer.start()
    future = writer.submit(batch(0, 3))
    assert gate.entered.wait(10)
    assert not future.done()  # the insert has not committed yet, so nobody is told "stored"
    gate.release()
    assert future.result(10) == 3 and store.count() == 3
    writer.close()


def test_the_queue_is_bounded_in_rows(store: RequestLogStore, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    gate = Gate(store, monkeypatch)
    writer = Writer(store, max_queued_rows=25)
    writer.start()
    first = writer.submit(batch(0, 20))
    assert gate.entered.wait(10)  # 20 rows in the transaction still count against the bound
    second = writer.submit(batch(20, 5))
    with pytest.raises(WriterBusy):
        writer.submit(batch(25, 1))
    gate.release()
    assert first.result(10) == 20 and second.result(10) == 5
    assert writer.submit(batch(25, 1)).result(10) == 1  # room again once written
    writer.close()
    assert store.count() == 26


def test_a_batch_bigger_than_the_bound_is_taken_when_the_queue_is_empty(store: RequestLogStore) -> None:
    writer = Writer(store, max_queued_rows=10, max_batch_rows=10)
    writer.start()
    assert writer.submit(batch(0, 40)).result(10) == 40
    writer.close()


def test_transactions_are_capped_at_max_batch_rows(store: RequestLogStore) -> None:
    writer = Writer(store, max_batch_rows=25)
    futures = [writer.submit(batch(i * 10, 10)) for i in range(6)]
    writer.start()
    for future in futures:
        future.result(10)
    writer.close()
    assert writer.transactions == 3 and store.count() == 60  # 20 + 20 + 20


def test_one_bad_batch_fails_alone(store: RequestLogStore) -> None:
    writer = Writer(store)
    good = writer.submit(batch(0, 5))
    bad = writer.submit(pa.table({"nonsense": [1, 2]}))  # cannot be concatenated or inserted
    other = writer.submit(batch(5, 5))
    writer.start()
    assert good.result(10) == 5 and other.result(10) == 5
    with pytest.raises(StorageError):
        bad.result(10)
    writer.close()
    assert store.count() == 10 and writer.failures == 1


def test_a_span_written_twice_is_stored_once(store: RequestLogStore) -> None:
    writer = Writer(store)
    writer.start()
    writer.submit(batch(0, 5)).result(10)
    writer.submit(batch(3, 5)).result(10)  # 3 and 4 again: a client retry
    writer.close()
    assert store.count() == 8


def test_close_writes_what_is_queued_and_refuses_more(store: RequestLogStore) -> None:
    writer = Writer(store)
    futures = [writer.submit(batch(i * 4, 4)) for i in range(3)]
    writer.start()
    writer.close()
    assert [f.result(0) for f in futures] == [4, 4, 4] and store.count() == 12
    with pytest.raises(WriterClosed):
        writer.submit(batch(100, 1))
    writer.close()  # idempotent


def test_close_without_start_fails_the_queued_batches(store: RequestLogStore) -> None:
    writer = Writer(store)
    future = writer.submit(batch(0, 1))
    writer.close()
    with pytest.raises(WriterClosed):
        future.result(0)
    assert store.count() == 0


def test_a_failing_on_commit_callback_does_not_fail_the_write(store: RequestLogStore) -> None:
    def broken(stored: list[tuple[Any, ...]]) -> None:
        raise RuntimeError("cache trouble")

    writer = Writer(store, on_commit=broken)
    writer.start()
    assert writer.submit(batch(0, 2)).result(10) == 2
    writer.close()
    assert store.count() == 2


def test_an_unexpected_error_fails_the_batch_and_the_writer_goes_on(store: RequestLogStore, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    writer = Writer(store)
    real = writer._write
    calls = []

    def broken_once(batch: Any, live: Any) -> Any:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("a bug")
        return real(batch, live)

    monkeypatch.setattr(writer, "_write", broken_once)
    writer.start()
    with pytest.raises(StorageError, match="a bug"):
        writer.submit(batch(0, 2)).result(10)
    assert writer.submit(batch(2, 2)).result(10) == 2
    writer.close()
    assert store.count() == 2 and writer.pending_rows == 0


def test_room_in_the_queue_is_made_before_the_answer(store: RequestLogStore) -> None:
    # A client told "stored" may send its next batch at once: it must not find the queue still full.
    writer = Writer(store, max_queued_rows=5)
    writer.start()
    for first in range(0, 100, 5):
        writer.submit(batch(first, 5)).result(10)  # would raise WriterBusy if room came after the answer
    writer.close()
    assert store.count() == 100
