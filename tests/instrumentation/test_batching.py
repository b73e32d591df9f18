"""configure()'s batches fit the service: 64 spans per export, and no export past 16 MiB (estimated).

The worst case with default options (both bodies at `max_body_bytes`, 64 KiB each, plus 16 KiB of
headers) goes through configure()'s own exporter to a real `reqlog serve`, and every row arrives.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import orjson
import pytest
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from instrumentation import OptionError, RequestLogMiddleware, configure
from instrumentation.batching import DEFAULT_MAX_EXPORT_BYTES, BoundedExporter, split

from .helpers import request
from .processes import ReqlogService, count_rows, ingest_token
from .test_raw_asgi import raw_app

MIB = 1024 * 1024
BODY = 64 * 1024  # the middleware's default max_body_bytes
HEADERS = {f"x-pad-{i}": "h" * 1000 for i in range(16)}  # 16 KiB of request headers


def _processor(provider: TracerProvider) -> BatchSpanProcessor:
    [processor] = provider._active_span_processor._span_processors  # the one configure() added
    assert isinstance(processor, BatchSpanProcessor)
    return processor


def _settings(provider: TracerProvider) -> tuple[int, int, float, int]:
    batch = _processor(provider)._batch_processor
    exporter = _processor(provider).span_exporter
    assert isinstance(exporter, BoundedExporter)
    return batch._max_export_batch_size, batch._max_queue_size, batch._schedule_delay_millis, exporter.max_bytes


def test_defaults() -> None:
    provider = configure(exporter="otlp", set_global=False, environ={}, check_connection=False)
    try:
        assert (
            _settings(provider) == (64, 2048, 1000, DEFAULT_MAX_EXPORT_BYTES) and DEFAULT_MAX_EXPORT_BYTES == 16 * MIB
        )
    finally:
        provider.shutdown()


def test_argument_beats_variable_beats_default() -> None:
    env = {"OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "100", "OTEL_BSP_SCHEDULE_DELAY": "250", "REQLOG_MAX_EXPORT_BYTES": "4096"}
    from_env = configure(exporter="otlp", set_global=False, environ=env, check_connection=False)
    from_args = configure(
        exporter="otlp",
        set_global=False,
        environ=env,
        check_connection=False,
        max_export_batch_size=8,
        max_export_bytes=1024,
    )
    small_queue = configure(
        exporter="otlp", set_global=False, environ={"OTEL_BSP_MAX_QUEUE_SIZE": "16"}, check_connection=False
    )
    try:
        assert _settings(from_env) == (100, 2048, 250, 4096)
        assert _settings(from_args) == (8, 2048, 250, 1024)
        assert _settings(small_queue)[:2] == (16, 16)  # the default batch shrinks to a small queue
    finally:
        for provider in (from_env, from_args, small_queue):
            provider.shutdown()


def test_bad_values_are_refused_up_front() -> None:
    with pytest.raises(OptionError, match="OTEL_BSP_MAX_EXPORT_BATCH_SIZE='lots'"):
        configure(exporter="otlp", set_global=False, environ={"OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "lots"})
    with pytest.raises(OptionError, match="larger than max_queue_size"):
        configure(exporter="otlp", set_global=False, environ={}, max_export_batch_size=4096, check_connection=False)


async def _worst_case_spans(app: RequestLogMiddleware, count: int, body: bytes) -> None:
    for _ in range(count):
        response = await request(
            app, "POST", "/big", content=body, headers={"content-type": "application/json", **HEADERS}
        )
        assert response.status_code == 200


def _body(text: str) -> bytes:
    return orjson.dumps({"data": text * (BODY // len(text.encode()) + 1)})  # past max_body_bytes: truncated


async def test_a_worst_case_batch_from_configure_is_stored(tmp_path: Path) -> None:
    db = tmp_path / "service" / "reqlog.duckdb"
    token = await asyncio.to_thread(ingest_token, db)
    service = await asyncio.to_thread(ReqlogService, db, tmp_path / "serve.log")
    try:
        provider = configure(
            endpoint=service.url, token=token, set_global=False, environ={}, schedule_delay_millis=600_000
        )
        seen = InMemorySpanExporter()
        provider.add_span_processor(SimpleSpanProcessor(seen))  # the same spans, to measure them
        app = RequestLogMiddleware(raw_app, tracer_provider=provider)
        await _worst_case_spans(app, 64, _body("x"))
        batch = seen.get_finished_spans()
        encoded = encode_spans(batch).ByteSize()
        assert 8 * MIB < encoded <= 16 * MIB  # one full default batch: a real worst case, within 16 MiB
        await asyncio.to_thread(provider.shutdown)  # one export of the 64 spans
    finally:
        assert await asyncio.to_thread(service.stop) == 0, service.stderr()
    assert count_rows(db) == 64


def test_the_size_estimate_bounds_each_run(
    tracer_provider: TracerProvider, span_exporter: InMemorySpanExporter
) -> None:
    """Runs cut by the estimate never encode past the bound, with ASCII, non-ASCII and replaced bytes."""
    app = RequestLogMiddleware(raw_app, tracer_provider=tracer_provider)
    bodies = [_body("x"), _body("é€"), b'{"d":"' + b"\xff" * BODY + b'"}']

    async def make() -> None:
        for body in bodies:
            await _worst_case_spans(app, 4, body)

    asyncio.run(make())
    spans = span_exporter.get_finished_spans()
    limit = 600 * 1024
    runs = split(spans, limit)
    assert len(runs) > 2 and sum(len(run) for run in runs) == len(spans)
    for run in runs:
        assert encode_spans(run).ByteSize() <= limit
    assert split(spans[:1], 10) == [spans[:1]]  # a span larger than the bound goes alone
