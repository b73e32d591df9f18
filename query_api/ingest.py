"""OTLP/HTTP trace ingest: `POST /v1/traces`, the standard path, so any OTel SDK or Collector can send.

A request goes: token check (401/403 as the query API answers them) -> content type (protobuf or
OTLP/JSON, else 415) and encoding (none, gzip or deflate, else 415) -> the body, read and inflated
up to the limit (413 past it, so a gzip bomb stops there instead of filling memory) -> in a decode
thread: decoded, flattened and turned into an Arrow batch (400 for a malformed payload) -> the
single writer (503 + Retry-After when its queue is full) -> the answer, an
`ExportTraceServiceResponse` in the request's encoding, sent only after the rows are committed.

Errors other than 401/403 carry a `google.rpc.Status` body, as the OTLP specification asks, in the
request's encoding (JSON when the content type itself was refused).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import logging
import zlib
from collections.abc import AsyncIterator
from typing import Any

import pyarrow as pa
from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from exporter.otlp import DecodedRequest, OtlpDecodeError, decode_protobuf, encode_response, encode_status
from exporter.otlp_json import decode_json
from exporter.redaction import Redactor
from exporter.row import COLUMN_NAMES
from exporter.store import values_to_arrow

from .auth import PERM_INGEST, authorize
from .keys import RECENT_KEY, SETTINGS_KEY, STORE_KEY
from .writer import StoredValues, Writer, WriterBusy, WriterClosed

logger = logging.getLogger("reqlog.ingest")

PATH = "/v1/traces"
PROTOBUF = "application/x-protobuf"
JSON = "application/json"
# gRPC status codes for the `google.rpc.Status` bodies.
_INVALID_ARGUMENT, _RESOURCE_EXHAUSTED, _UNAVAILABLE = 3, 8, 14
_WBITS = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}
# aiohttp inflates these itself (br and zstd when their packages are installed).
_DECODED_BY_AIOHTTP = frozenset({"", "identity", "gzip", "x-gzip", "deflate", "br", "zstd"})
_CHUNK = 256 * 1024
_SPAN_ID = COLUMN_NAMES.index("span_id")


@dataclasses.dataclass(slots=True)
class IngestStats:
    """Counters since start: what came in and what became of it."""

    requests: int = 0
    spans: int = 0
    rows: int = 0
    ignored: int = 0  # not HTTP server spans
    rejected: int = 0  # malformed spans (answered in partial_success)
    refused: int = 0  # requests answered 503 because the writer was behind or failing


@dataclasses.dataclass(slots=True)
class Ingest:
    """The receiver's state on the app: the writer, the decode threads and the counters."""

    writer: Writer
    decoder: concurrent.futures.ThreadPoolExecutor
    redactor: Redactor
    max_bytes: int
    retry_after: int
    stats: IngestStats = dataclasses.field(default_factory=IngestStats)


INGEST_KEY = web.AppKey("reqlog_ingest", Ingest)


class _OtlpError(Exception):
    """An OTLP error answer: HTTP `status`, gRPC `code`, and a message for the client."""

    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def setup_ingest(app: web.Application) -> None:
    """Register `POST /v1/traces` and the writer's lifecycle on `app`.

    Call it after the store's cleanup context is registered: the writer drains into the store
    when the app stops, so it must stop before the store closes.
    """
    app.router.add_post(PATH, handle_traces)
    app.cleanup_ctx.append(_ingest_context)


async def _ingest_context(app: web.Application) -> AsyncIterator[None]:
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
    decoder = concurrent.futures.ThreadPoolExecutor(max_workers=2, thread_name_prefix="reqlog-decode")
    app[INGEST_KEY] = Ingest(
        writer=writer,
        decoder=decoder,
        redactor=Redactor.build(
            add_headers=_csv(settings.redact_headers),
            keep_headers=_csv(settings.unredact_headers),
            add_keys=_csv(settings.redact_keys),
            keep_keys=_csv(settings.unredact_keys),
        ),
        max_bytes=settings.ingest_max_bytes,
        retry_after=settings.ingest_retry_after,
    )
    writer.start()
    try:
        yield
    finally:
        await asyncio.to_thread(decoder.shutdown, wait=True)
        # Whatever was acknowledged is committed already; what is queued is written now.
        await asyncio.to_thread(writer.close)


async def handle_traces(request: web.Request) -> web.Response:
    """`POST /v1/traces`: store the HTTP server spans of an `ExportTraceServiceRequest`."""
    await authorize(request, PERM_INGEST)
    ingest = request.app[INGEST_KEY]
    json = request.content_type == JSON
    try:
        if not json and request.content_type != PROTOBUF:
            json = True  # the client speaks neither encoding: answer in the readable one
            raise _OtlpError(415, _INVALID_ARGUMENT, f"unsupported content type {request.content_type!r}; "
                             f"send {PROTOBUF} or {JSON}")  # fmt: skip
        encoding = request.headers.get("Content-Encoding", "identity").strip().lower()
        if encoding not in _WBITS and encoding not in _DECODED_BY_AIOHTTP:
            raise _unsupported_encoding(encoding)
        raw, inflated = await _read_body(request, ingest.max_bytes)
        if inflated or encoding in ("", "identity"):
            encoding = "identity"
        elif encoding not in _WBITS:  # left to us (auto_decompress off), and not one we inflate
            raise _unsupported_encoding(encoding)
        loop = asyncio.get_running_loop()
        decoded, table = await loop.run_in_executor(ingest.decoder, _decode, raw, encoding, json, ingest)
        ingest.stats.requests += 1
        ingest.stats.spans += decoded.spans
        ingest.stats.ignored += decoded.ignored
        ingest.stats.rejected += decoded.rejected
        if table is not None:
            await _write(ingest, table)
            ingest.stats.rows += table.num_rows
    except _OtlpError as error:
        headers = {"Retry-After": str(ingest.retry_after)} if error.status == 503 else None
        return web.Response(
            status=error.status,
            body=encode_status(error.code, error.message, json=json),
            content_type=JSON if json else PROTOBUF,
            headers=headers,
        )
    return web.Response(body=encode_response(decoded, json=json), content_type=JSON if json else PROTOBUF)


async def _read_body(request: web.Request, limit: int) -> tuple[bytes, bool]:
    """The body, at most `limit` bytes of it, and whether aiohttp already inflated it.

    aiohttp inflates gzip and deflate bodies itself, incrementally and only as fast as they are
    read (3.14 caps each step), so stopping at the limit stops a gzip bomb: what is never read is
    never inflated. A server started with `auto_decompress=False` hands the compressed bytes over
    instead; `_decode` then inflates them with the same cap.
    """
    bound = limit + 64 * 1024  # compressed data may be a little larger than the original
    if request.content_length is not None and request.content_length > bound:
        raise _too_large(limit)
    body = bytearray()
    try:
        async for chunk in request.content.iter_chunked(_CHUNK):
            body += chunk
            if len(body) > limit:
                raise _too_large(limit)
    except (web.RequestPayloadError, HttpProcessingError):  # aiohttp could not inflate the body
        raise _OtlpError(400, _INVALID_ARGUMENT, "the body is not valid compressed data") from None
    return bytes(body), request.content.total_compressed_bytes is not None


def _decode(raw: bytes, encoding: str, json: bool, ingest: Ingest) -> tuple[DecodedRequest, pa.Table | None]:
    """Runs in a decode thread: inflate, decode, flatten, build the Arrow batch."""
    data = _inflate(raw, _WBITS[encoding], ingest.max_bytes) if encoding in _WBITS else raw
    if len(data) > ingest.max_bytes:
        raise _too_large(ingest.max_bytes)
    try:
        decoded = (decode_json if json else decode_protobuf)(data, redactor=ingest.redactor)
    except OtlpDecodeError as exc:
        raise _OtlpError(400, _INVALID_ARGUMENT, str(exc)) from None
    return decoded, _to_arrow(decoded)


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
                    raise _too_large(limit)
                pending = inflater.unconsumed_tail
            if not inflater.eof:
                raise _OtlpError(400, _INVALID_ARGUMENT, "the compressed body is truncated")
            data = inflater.unused_data
            if not data:  # gzip allows several members one after another
                return bytes(out)
    except zlib.error as exc:
        raise _OtlpError(400, _INVALID_ARGUMENT, f"the body is not valid compressed data: {exc}") from None


def _to_arrow(decoded: DecodedRequest) -> pa.Table | None:
    if not decoded.rows:
        return None
    try:
        return values_to_arrow(decoded.rows)
    except (pa.ArrowException, OverflowError, TypeError, ValueError):
        pass
    # Some row does not fit the schema (the decoder's checks should make this impossible): keep
    # the others and reject that span, rather than losing the whole request.
    good: list[tuple[Any, ...]] = []
    for values in decoded.rows:
        try:
            values_to_arrow([values])
        except (pa.ArrowException, OverflowError, TypeError, ValueError) as exc:
            decoded.reject(f"span {values[_SPAN_ID]}", f"does not fit the table: {exc}")
        else:
            good.append(values)
    decoded.rows = good
    return values_to_arrow(good) if good else None


async def _write(ingest: Ingest, table: pa.Table) -> Any:
    try:
        future = ingest.writer.submit(table)
    except (WriterBusy, WriterClosed) as exc:
        ingest.stats.refused += 1
        raise _OtlpError(503, _UNAVAILABLE, f"the writer is behind ({exc}); retry later") from None
    try:
        return await asyncio.wrap_future(future)
    except Exception as exc:
        # Nothing of this request is stored; a retry may succeed (a full disk, a checkpoint failure).
        ingest.stats.refused += 1
        raise _OtlpError(
            503, _UNAVAILABLE, f"the rows could not be stored ({type(exc).__name__}); retry later"
        ) from None


def _unsupported_encoding(encoding: str) -> _OtlpError:
    return _OtlpError(415, _INVALID_ARGUMENT, f"unsupported content encoding {encoding!r}; send gzip or none")


def _csv(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


def _too_large(limit: int) -> _OtlpError:
    return _OtlpError(413, _RESOURCE_EXHAUSTED, f"the request is larger than {limit} bytes after decompression")
