"""The CPU side of OTLP ingest: inflate, decode, flatten and build the Arrow batch, off the event loop.

That work is pure Python (~50 us a span, docs/design-notes.md and bench/ingest.py), so in threads it shares one
core with the event loop and the writer, whatever the machine has. `DecodePool` therefore runs it
in worker processes (`ingest_workers`, spawned on first use) that send back only the Arrow batch
and the counts; with `ingest_workers=0` it runs in a thread of the service process instead (tests,
tiny deployments). A worker that dies takes only its own requests with it (503, retried by the
client) and the pool is rebuilt.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import multiprocessing
import os
import signal
import threading
import time
import zlib
from collections.abc import Mapping
from concurrent.futures.process import BrokenProcessPool
from typing import Any

import pyarrow as pa

from exporter import bounded_cache, header_attributes, limits
from exporter.errors import RequestLogError
from exporter.isolation import ARROW_ERRORS, Outcome, rows_to_table
from exporter.otlp import DecodedRequest, OtlpDecodeError, decode_protobuf
from exporter.otlp_json import decode_json
from exporter.redaction import Redactor
from exporter.store import values_to_arrow
from exporter.useragent import warm_up

# gRPC status codes for the `google.rpc.Status` bodies of error answers.
INVALID_ARGUMENT, RESOURCE_EXHAUSTED, UNAVAILABLE = 3, 8, 14
WBITS = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}
Redaction = tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...], tuple[str, ...]]


class OtlpError(RequestLogError):
    """An OTLP error answer: HTTP `status`, gRPC `code`, and a message for the client."""

    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(status, code, message)  # all three in args, so it survives pickling
        self.status, self.code, self.message = status, code, message

    def __str__(self) -> str:
        return self.message


def too_large(limit: int) -> OtlpError:
    return OtlpError(
        413,
        RESOURCE_EXHAUSTED,
        f"the request is larger than {limit} bytes after decompression: raise REQLOG_INGEST_MAX_BYTES on the "
        "service, or send smaller batches (OTEL_BSP_MAX_EXPORT_BATCH_SIZE in the app)",
    )


def decode_body(
    raw: bytes, encoding: str, json: bool, max_bytes: int, redactor: Redactor | None = None
) -> tuple[DecodedRequest, pa.Table | None]:
    """Inflate (when `encoding` is gzip/deflate), decode and build the batch; raises `OtlpError`.

    The returned `DecodedRequest` has its counts and reasons but no `rows`: they are in the table.
    """
    data = _inflate(raw, WBITS[encoding], max_bytes) if encoding in WBITS else raw
    if len(data) > max_bytes:
        raise too_large(max_bytes)
    try:
        decoded = (decode_json if json else decode_protobuf)(data, redactor=redactor or _worker_redactor)
    except OtlpDecodeError as exc:
        raise OtlpError(400, INVALID_ARGUMENT, str(exc)) from None
    table = _to_arrow(decoded)
    decoded.rows = []
    return decoded, table


def _inflate(data: bytes, wbits: int, limit: int) -> bytes:
    """Decompress gzip or zlib `data`, stopping as soon as the output passes `limit`."""
    out = bytearray()
    try:
        while True:
            inflater = zlib.decompressobj(wbits)
            pending = data
            while pending and not inflater.eof:
                out += inflater.decompress(pending, limit + 1 - len(out))
                if len(out) > limit:
                    raise too_large(limit)
                pending = inflater.unconsumed_tail
            if not inflater.eof:
                raise OtlpError(400, INVALID_ARGUMENT, "the compressed body is truncated")
            data = inflater.unused_data
            if not data:  # gzip allows several members one after another
                return bytes(out)
    except zlib.error as exc:
        raise OtlpError(400, INVALID_ARGUMENT, f"the body is not valid compressed data: {exc}") from None


def _to_arrow(decoded: DecodedRequest) -> pa.Table | None:
    if not decoded.rows:
        return None
    try:
        return values_to_arrow(decoded.rows)
    except ARROW_ERRORS:
        pass
    # Some row does not fit the schema (text that is not valid Unicode, which flattening's checks
    # should have caught): clean it, or reject that span alone, rather than losing the whole request.
    outcome = Outcome()
    table = rows_to_table(decoded.rows, outcome)
    for note in outcome.repaired:
        decoded.repair(note.split(":", 1)[0], note.split(": ", 1)[-1])
    for error in outcome.rejected:
        decoded.reject(error.split(":", 1)[0], error.split(": ", 1)[-1])
    return table


# -- the pool -------------------------------------------------------------------------------------

HEADER_KEYS = "header keys"  # the tables `exporter.header_attributes` keeps for the C header code


def configure_caches(budgets: Mapping[str, int]) -> None:
    """Byte budgets by cache name: the `bounded_cache` ones, and `HEADER_KEYS`."""
    budgets = dict(budgets)
    if HEADER_KEYS in budgets:
        header_attributes.configure_tables(budgets.pop(HEADER_KEYS))
    bounded_cache.configure(budgets)


def cache_sizes() -> dict[str, dict[str, int]]:
    """This process's decoder caches: entries, bytes and budget by name."""
    return {**bounded_cache.snapshot(), HEADER_KEYS: header_attributes.tables_snapshot()}


_worker_redactor = Redactor()


def _init_worker(
    redaction: Redaction,
    parent: int,
    max_body_bytes: int = limits.DEFAULT_MAX_BODY_BYTES,
    cache_budgets: Mapping[str, int] | None = None,
    max_span_header_bytes: int = limits.DEFAULT_MAX_SPAN_HEADER_BYTES,
) -> None:
    global _worker_redactor
    # Ctrl-C reaches the whole process group: the service stops its workers itself, in order, so a
    # worker ignores SIGINT instead of dying with a KeyboardInterrupt traceback on the terminal.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    limits.configure(max_body_bytes=max_body_bytes, max_span_header_bytes=max_span_header_bytes)
    configure_caches(cache_budgets or {})
    add_headers, keep_headers, add_keys, keep_keys = redaction
    _worker_redactor = Redactor.build(
        add_headers=add_headers, keep_headers=keep_headers, add_keys=add_keys, keep_keys=keep_keys
    )
    warm_up()
    # A service killed with SIGKILL cannot stop its workers: they notice the orphaning and leave.
    threading.Thread(target=_exit_with, args=(parent,), name="reqlog-parent-watch", daemon=True).start()


def _ready() -> None:
    """A no-op task: submitting it starts a worker process."""


def _exit_with(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(0)


class DecodePool:
    """Runs `decode_body` in `workers` processes (0: in one thread of this process)."""

    def __init__(
        self,
        workers: int,
        redaction: Redaction,
        *,
        max_body_bytes: int = limits.DEFAULT_MAX_BODY_BYTES,
        cache_budgets: Mapping[str, int] | None = None,
        max_span_header_bytes: int = limits.DEFAULT_MAX_SPAN_HEADER_BYTES,
    ) -> None:
        self.workers = workers
        self._max_body_bytes = max_body_bytes
        self._max_span_header_bytes = max_span_header_bytes
        self._cache_budgets = dict(cache_budgets or {})
        self._used = False
        if workers == 0:  # decoding runs in this process
            limits.configure(max_body_bytes=max_body_bytes, max_span_header_bytes=max_span_header_bytes)
        configure_caches(self._cache_budgets)  # this process flattens too (in-process decoding, tests)
        self._redaction = redaction
        self._redactor = Redactor.build(
            add_headers=redaction[0], keep_headers=redaction[1], add_keys=redaction[2], keep_keys=redaction[3]
        )
        self._executor = self._new_executor()
        self._spawned: concurrent.futures.Executor | None = None

    def _new_executor(self) -> concurrent.futures.Executor:
        if self.workers == 0:
            return concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="reqlog-decode")
        return concurrent.futures.ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=multiprocessing.get_context("spawn"),  # no fork of a threaded process
            initializer=_init_worker,
            initargs=(
                self._redaction,
                os.getpid(),
                self._max_body_bytes,
                self._cache_budgets,
                self._max_span_header_bytes,
            ),
        )

    async def decode(self, raw: bytes, encoding: str, json: bool, max_bytes: int) -> tuple[DecodedRequest, Any]:
        """`decode_body` off the loop; raises `OtlpError` (503 if a worker process died)."""
        loop = asyncio.get_running_loop()
        executor = self._executor
        self._used = True
        redactor = self._redactor if self.workers == 0 else None  # workers built their own
        if self.workers > 1 and self._spawned is not executor:
            # Processes start on demand, one per request finding none idle: start them all now,
            # rather than one by one under the first burst.
            self._spawned = executor
            for _ in range(self.workers - 1):
                executor.submit(_ready)
        try:
            return await loop.run_in_executor(executor, decode_body, raw, encoding, json, max_bytes, redactor)
        except BrokenProcessPool:
            if self._executor is executor:
                self._executor = self._new_executor()
                await asyncio.to_thread(executor.shutdown, wait=False)
            raise OtlpError(503, UNAVAILABLE, "a decoding process stopped; retry later") from None

    async def cache_sizes(self) -> dict[str, dict[str, int]] | None:
        """The decoder caches of a decoding process (`bounded_cache.snapshot`): this one's when it
        decodes itself or no worker has started yet, else a worker's; `None` if it is busy for 1 s."""
        if self.workers == 0 or not self._used:
            return cache_sizes()
        future = asyncio.get_running_loop().run_in_executor(self._executor, cache_sizes)
        try:
            return await asyncio.wait_for(future, 1.0)
        except (TimeoutError, BrokenProcessPool):
            return None

    def close(self) -> None:
        """Stop the workers (waits for the requests they are decoding)."""
        self._executor.shutdown(wait=True)
