"""OTLP/HTTP trace ingest: `POST /v1/traces`, the standard path, so any OTel SDK or Collector can send.

A request goes: token check (401/403 as the query API answers them) -> content type (protobuf or
OTLP/JSON, else 415) and encoding (none, gzip or deflate, else 415) -> the body, read and inflated
up to the limit (413 past it, so a gzip bomb stops there instead of filling memory) -> in a decoding
process (`decode`): decoded, flattened and turned into an Arrow batch (400 for a malformed
payload) -> the single writer (`writer`; 503 + Retry-After when its queue is full) -> the answer,
an `ExportTraceServiceResponse` in the request's encoding, sent only after the rows are committed.

Errors other than 401/403 carry a `google.rpc.Status` body, as the OTLP specification asks, in the
request's encoding (JSON when the content type itself was refused).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import pyarrow as pa
from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from exporter.otlp import encode_response, encode_status
from exporter.useragent import warm_up
from query_api.auth import PERM_INGEST, authorize
from query_api.ingest.budget import ByteBudget, OverBudget
from query_api.ingest.decode import INVALID_ARGUMENT, UNAVAILABLE, WBITS, DecodePool, OtlpError, too_large
from query_api.ingest.state import Ingest
from query_api.ingest.writer import StoredValues, Writer, WriterBusy, WriterClosed
from query_api.keys import INGEST_KEY, RECENT_KEY, SETTINGS_KEY, STORE_KEY
from query_api.ops import metrics as ops_metrics

logger = logging.getLogger("reqlog.ingest")

PATH = "/v1/traces"
PROTOBUF = "application/x-protobuf"
JSON = "application/json"
# aiohttp inflates these itself (br and zstd when their packages are installed).
_DECODED_BY_AIOHTTP = frozenset({"", "identity", "gzip", "x-gzip", "deflate", "br", "zstd"})
_CHUNK = 256 * 1024


async def ingest_context(app: web.Application) -> AsyncIterator[None]:
    """The writer and the decoding pool, for the app's lifetime (`app.LIFECYCLE`).

    After the store's context: the writer drains into the store when the app stops, so it must
    stop before the store closes.
    """
    settings = app[SETTINGS_KEY]
    recent = app.get(RECENT_KEY)

    def on_commit(stored: StoredValues) -> None:
        # On the writer thread, before the batch's futures resolve: a client that got its 2xx
        # finds the rows in the cache straight away.
        if recent is not None:
            recent.add(stored)

    writer = Writer(
        app[STORE_KEY],
        max_queued_rows=settings.ingest_queue_rows,
        max_batch_rows=settings.ingest_batch_rows,
        # RETURNING costs ~10% of an insert: ask for the stored rows only when a cache takes them.
        on_commit=on_commit if recent is not None and recent.max_bytes > 0 else None,
    )
    redaction = (settings.redact_headers, settings.unredact_headers, settings.redact_keys, settings.unredact_keys)
    decoder = DecodePool(
        settings.ingest_workers,
        redaction,
        max_body_bytes=settings.ingest_max_body_bytes,
        cache_budgets=settings.cache_budgets,
        max_span_header_bytes=settings.ingest_span_header_bytes,
    )
    app[INGEST_KEY] = Ingest(
        writer=writer,
        decoder=decoder,
        max_bytes=settings.ingest_max_bytes,
        retry_after=settings.ingest_retry_after,
        budget=ByteBudget(settings.ingest_inflight_bytes),
    )
    writer.start()
    # Building the user-agent parser takes 0.1-0.4 s (docs/design-notes.md): not on the first request's time.
    await asyncio.to_thread(warm_up)
    try:
        yield
    finally:
        await asyncio.to_thread(decoder.close)
        # Whatever was acknowledged is committed already; what is queued is written now.
        await asyncio.to_thread(writer.close)
        stats = app[INGEST_KEY].stats
        logger.info(
            "OTLP ingest: %d requests, %d spans -> %d rows; %d ignored (not HTTP server spans), %d rejected, "
            "%d requests refused (503), %d over the in-flight budget (503), %d too large (413)",
            stats.requests, stats.spans, stats.rows, stats.ignored, stats.rejected, stats.refused,
            stats.over_budget, stats.too_large,
        )  # fmt: skip


async def handle_traces(request: web.Request) -> web.Response:
    """`POST /v1/traces`: store the HTTP server spans of an `ExportTraceServiceRequest`."""
    await authorize(request, PERM_INGEST)
    ingest = request.app[INGEST_KEY]
    json = request.content_type == JSON
    held = [0]  # bytes this request holds of the in-flight budget, given back when it is answered
    rows: int | None = None  # HTTP server spans to store, once decoded
    try:
        if not json and request.content_type != PROTOBUF:
            json = True  # the client speaks neither encoding: answer in the readable one
            raise OtlpError(415, INVALID_ARGUMENT, f"unsupported content type {request.content_type!r}; "
                             f"send {PROTOBUF} or {JSON}")  # fmt: skip
        encoding = request.headers.get("Content-Encoding", "identity").strip().lower()
        if encoding not in WBITS and encoding not in _DECODED_BY_AIOHTTP:
            raise _unsupported_encoding(encoding)
        raw, inflated = await _read_body(request, ingest.max_bytes, ingest.budget, held)
        if inflated or encoding in ("", "identity"):
            encoding = "identity"
        elif encoding not in WBITS:  # left to us (auto_decompress off), and not one we inflate
            raise _unsupported_encoding(encoding)
        decoded, table = await ingest.decoder.decode(raw, encoding, json, ingest.max_bytes)
        rows = 0 if table is None else table.num_rows
        ingest.stats.requests += 1
        ingest.stats.spans += decoded.spans
        ingest.stats.ignored += decoded.ignored
        ingest.stats.rejected += decoded.rejected
        if table is not None:
            ingest.stats.rows += await _write(ingest, table)
    except OtlpError as error:
        if error.status == 413:
            ingest.stats.too_large += 1
        elif isinstance(error, _OverBudgetAnswer):
            ingest.stats.over_budget += 1
        ops_metrics.otlp_failed(request.app, error.status, over_budget=isinstance(error, _OverBudgetAnswer), rows=rows)
        headers = {"Retry-After": str(ingest.retry_after)} if error.status == 503 else None
        return web.Response(
            status=error.status,
            body=encode_status(error.code, error.message, json=json),
            content_type=JSON if json else PROTOBUF,
            headers=headers,
        )
    finally:
        ingest.budget.release(held[0])
    ops_metrics.otlp_stored(request.app)
    return web.Response(body=encode_response(decoded, json=json), content_type=JSON if json else PROTOBUF)


async def _read_body(request: web.Request, limit: int, budget: ByteBudget, held: list[int]) -> tuple[bytes, bool]:
    """The body, at most `limit` bytes of it, and whether aiohttp already inflated it.

    aiohttp inflates gzip and deflate bodies itself, incrementally and only as fast as they are
    read (3.14 caps each step), so stopping at the limit stops a gzip bomb: what is never read is
    never inflated. A server started with `auto_decompress=False` hands the compressed bytes over
    instead; `decode.decode_body` then inflates them with the same cap. The bytes read are
    charged to `budget` as they come (`held[0]` says how many): past it, 503 before reading more.
    """
    bound = limit + 64 * 1024  # compressed data may be a little larger than the original
    if request.content_length is not None and request.content_length > bound:
        raise too_large(limit)
    body = bytearray()
    try:
        if request.content_length:  # known up front: refuse before reading anything
            _charge(budget, held, request.content_length)
        async for chunk in request.content.iter_chunked(_CHUNK):
            body += chunk
            if len(body) > limit:
                raise too_large(limit)
            if len(body) > held[0]:  # inflated, or sent without a length
                _charge(budget, held, len(body) - held[0])
    except (web.RequestPayloadError, HttpProcessingError):  # aiohttp could not inflate the body
        raise OtlpError(400, INVALID_ARGUMENT, "the body is not valid compressed data") from None
    # An empty body comes as an EmptyStreamReader, which has no such attribute (and nothing to inflate).
    return bytes(body), getattr(request.content, "total_compressed_bytes", None) is not None


class _OverBudgetAnswer(OtlpError):
    """The 503 of a full in-flight budget (counted apart from a writer that is behind)."""


def _charge(budget: ByteBudget, held: list[int], nbytes: int) -> None:
    try:
        budget.charge(nbytes, held=held[0])
    except OverBudget as exc:
        raise _OverBudgetAnswer(503, UNAVAILABLE, f"the service is busy ({exc}); retry later") from None
    held[0] += nbytes


async def _write(ingest: Ingest, table: pa.Table) -> int:
    try:
        future = ingest.writer.submit(table)
    except (WriterBusy, WriterClosed) as exc:
        ingest.stats.refused += 1
        raise OtlpError(503, UNAVAILABLE, f"the writer is behind ({exc}); retry later") from None
    try:
        written: int = await asyncio.wrap_future(future)
        return written
    except Exception as exc:
        # Nothing of this request is stored; a retry may succeed (a full disk, a checkpoint failure).
        ingest.stats.refused += 1
        raise OtlpError(503, UNAVAILABLE, f"the rows could not be stored ({type(exc).__name__}); retry later") from None


def _unsupported_encoding(encoding: str) -> OtlpError:
    return OtlpError(415, INVALID_ARGUMENT, f"unsupported content encoding {encoding!r}; send gzip or none")
