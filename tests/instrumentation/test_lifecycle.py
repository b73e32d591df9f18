"""The lifespan part of `lifecycle`, in-process: what the server sees, and that the queue is flushed."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from instrumentation import RequestLogMiddleware

from .helpers import request
from .test_raw_asgi import raw_app


@pytest.fixture
def queued() -> Iterator[tuple[TracerProvider, InMemorySpanExporter]]:
    """A provider whose batches would leave only after ten minutes: a flush is the only way out."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(exporter, schedule_delay_millis=600_000))
    yield provider, exporter
    provider.shutdown()


async def _lifespan(app: Any) -> tuple[list[str], asyncio.Task[None]]:
    """Drive a lifespan as a server does: startup, then shutdown; the messages the app sent."""
    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    sent: list[str] = []
    for kind in ("lifespan.startup", "lifespan.shutdown"):
        inbox.put_nowait({"type": kind})

    async def send(message: dict[str, Any]) -> None:
        sent.append(message["type"])

    task = asyncio.ensure_future(app({"type": "lifespan", "asgi": {"version": "3.0"}}, inbox.get, send))
    await asyncio.wait_for(asyncio.shield(task), 10)
    return sent, task


async def _refuses(scope: Any, receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        raise ValueError("Django can only handle ASGI/HTTP connections")
    await raw_app(scope, receive, send)


async def _speaks(scope: Any, receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            await send({"type": message["type"] + ".complete"})
            if message["type"] == "lifespan.shutdown":
                return
    await raw_app(scope, receive, send)


@pytest.mark.parametrize("inner", [_refuses, _speaks], ids=["refuses-lifespan", "speaks-lifespan"])
async def test_shutdown_flushes_the_queue(queued: tuple[TracerProvider, InMemorySpanExporter], inner: Any) -> None:
    provider, exporter = queued
    app = RequestLogMiddleware(inner, tracer_provider=provider)
    for _ in range(3):
        assert (await request(app, "GET", "/missing")).status_code == 404
    assert exporter.get_finished_spans() == ()  # still queued
    sent, _ = await _lifespan(app)
    assert sent == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    assert len(exporter.get_finished_spans()) == 3
    assert (await request(app, "GET", "/missing")).status_code == 404  # only flushed: it still records
    await asyncio.to_thread(provider.force_flush)
    assert len(exporter.get_finished_spans()) == 4


async def test_a_failure_inside_lifespan_still_reaches_the_server(queued: tuple[TracerProvider, Any]) -> None:
    async def broken(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        raise RuntimeError("database down")

    app = RequestLogMiddleware(broken, tracer_provider=queued[0])
    with pytest.raises(RuntimeError, match="database down"):
        await _lifespan(app)
