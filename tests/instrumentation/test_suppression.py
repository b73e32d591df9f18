"""OpenTelemetry's suppression switches turn both middlewares off for the requests they cover.

The middlewares read the current context once per request and ask OTel's
`is_http_instrumentation_enabled()` only when that context holds anything (`core.http_context`):
these tests hold each switch, and a context holding something else, to the answer OTel gives.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import pytest
from opentelemetry import context, trace
from opentelemetry.instrumentation.utils import suppress_http_instrumentation, suppress_instrumentation
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from instrumentation import RequestLogMiddleware, RequestLogWSGIMiddleware

from .helpers import request
from .wsgi_helpers import call


def _wsgi_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]


async def _asgi_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"ok"})


@contextmanager
def _unrelated_value() -> Iterator[None]:
    """A current context that holds something, but neither a switch nor a span."""
    token = context.attach(context.set_value(context.create_key("tenant"), "acme"))
    try:
        yield
    finally:
        context.detach(token)


@contextmanager
def _nothing() -> Iterator[None]:
    yield


_SWITCHES: list[tuple[Callable[[], AbstractContextManager[Any]], int]] = [
    (suppress_instrumentation, 0),
    (suppress_http_instrumentation, 0),
    (_unrelated_value, 1),
    (_nothing, 1),
]


def _provider() -> tuple[TracerProvider, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider, exporter


@pytest.mark.parametrize(("switch", "spans"), _SWITCHES)
def test_wsgi_follows_otels_switches(switch: Callable[[], AbstractContextManager[Any]], spans: int) -> None:
    provider, exporter = _provider()
    app = RequestLogWSGIMiddleware(_wsgi_app, tracer_provider=provider)
    with switch():
        answer = call(app, "GET", "/ping")
    assert answer.status == 200 and answer.body == b"ok"
    assert len(exporter.get_finished_spans()) == spans


@pytest.mark.parametrize(("switch", "spans"), _SWITCHES)
def test_asgi_follows_otels_switches(switch: Callable[[], AbstractContextManager[Any]], spans: int) -> None:
    provider, exporter = _provider()
    app = RequestLogMiddleware(_asgi_app, tracer_provider=provider)

    async def one() -> int:
        with switch():  # the task the transport runs the app in copies this context
            answer = await request(app, "GET", "/ping")
        return answer.status_code

    assert asyncio.run(one()) == 200
    assert len(exporter.get_finished_spans()) == spans


def test_a_span_current_in_a_context_holding_more_is_the_parent() -> None:
    provider, exporter = _provider()
    app = RequestLogWSGIMiddleware(_wsgi_app, tracer_provider=provider)
    with _unrelated_value(), provider.get_tracer("t").start_as_current_span("outer") as outer:
        call(app, "GET", "/ping")
    (span,) = [s for s in exporter.get_finished_spans() if s.name != "outer"]
    assert span.parent is not None and span.parent.span_id == outer.get_span_context().span_id
    assert trace.get_current_span() is trace.INVALID_SPAN
