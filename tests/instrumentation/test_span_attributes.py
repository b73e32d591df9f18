"""`set_built_attributes` gives a span exactly what `Span.set_attributes` gives it, minus the re-cleaning.

Each case builds two spans on the real SDK, one through the SDK's `set_attributes` and one through
the fast path, and compares what a span processor sees: the attributes in order and the dropped
count. The fast path is proved taken by making the span's own `set_attributes` refuse to run.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan, SpanLimits, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import INVALID_SPAN, NonRecordingSpan

from instrumentation import span_attributes
from instrumentation.span_attributes import set_built_attributes

HEADERS = {
    "http.request.header.accept": ("application/json",),
    "http.request.header.x-forwarded-for": ("10.0.0.1", "10.0.0.2"),
    "http.response.status_code": 201,
    "reqlog.request.body.truncated": True,
    "http.request.body.content": '{"item": "tea"}',
}


def _pair(limits: SpanLimits | None = None) -> tuple[InMemorySpanExporter, Any, Any]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(span_limits=limits or SpanLimits(), shutdown_on_exit=False)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("test")
    start = {"http.request.method": "POST", "url.path": "/api/orders/"}
    return exporter, tracer.start_span("POST", attributes=start), tracer.start_span("POST", attributes=start)


def _refuse(*args: Any) -> None:
    raise AssertionError("the fast path called the SDK's set_attributes")


def _seen(span: ReadableSpan) -> tuple[list[tuple[str, Any]], int]:
    return list(span.attributes.items()), span.dropped_attributes  # type: ignore[union-attr]


def test_the_installed_sdk_takes_the_fast_path() -> None:
    assert span_attributes._probe() is True


@pytest.mark.parametrize("limit", [None, 4, 6])
def test_same_attributes_and_drops_as_the_sdk(limit: int | None) -> None:
    """Within the limit, and past it: the oldest dropped and counted, as the SDK does."""
    limits = SpanLimits(max_span_attributes=limit) if limit is not None else None
    exporter, slow, fast = _pair(limits)
    slow.set_attributes(HEADERS)
    if limit is None:  # past the limit the fast path hands over to the SDK's own per-item rule
        fast.set_attributes = _refuse
    set_built_attributes(fast, HEADERS)
    set_built_attributes(fast, {"http.route": "/api/orders/"})
    slow.set_attributes({"http.route": "/api/orders/"})
    slow.end()
    fast.end()
    first, second = exporter.get_finished_spans()
    assert _seen(first) == _seen(second)
    assert list(second.attributes or {})[-1] == "http.route"  # the newest is always kept
    if limit is None:
        assert dict(second.attributes or {})["http.request.header.x-forwarded-for"] == ("10.0.0.1", "10.0.0.2")
    else:
        assert second.dropped_attributes == 2 + len(HEADERS) + 1 - limit


def test_a_value_length_limit_goes_through_the_sdk() -> None:
    """With `max_span_attribute_length` set, values must be cut: the SDK does it, not the fast path."""
    exporter, slow, fast = _pair(SpanLimits(max_span_attribute_length=5))
    slow.set_attributes(HEADERS)
    set_built_attributes(fast, HEADERS)
    slow.end()
    fast.end()
    first, second = exporter.get_finished_spans()
    assert _seen(first) == _seen(second)
    assert dict(second.attributes or {})["http.request.header.accept"] == ("appli",)


def test_an_ended_span_is_left_as_it_was(caplog: pytest.LogCaptureFixture) -> None:
    exporter, _, fast = _pair()
    fast.end()
    with caplog.at_level(logging.WARNING):
        set_built_attributes(fast, HEADERS)
    (span,) = exporter.get_finished_spans()
    assert "http.response.status_code" not in (span.attributes or {})
    assert "Setting attribute on ended span" in caplog.text


def test_a_span_of_no_sdk_is_handed_to_its_own_set_attributes() -> None:
    set_built_attributes(NonRecordingSpan(INVALID_SPAN.get_span_context()), HEADERS)  # no error, nothing kept


@pytest.mark.parametrize("limit", [None, 6])
def test_a_name_is_set_as_update_name_sets_it(limit: int | None) -> None:
    exporter, slow, fast = _pair(SpanLimits(max_span_attribute_length=limit) if limit else None)
    slow.set_attributes(HEADERS)
    slow.update_name("POST /api/orders/")
    if limit is None:  # the fast path: the SDK's own methods are not called
        fast.set_attributes = fast.update_name = _refuse
    set_built_attributes(fast, HEADERS, name="POST /api/orders/")
    slow.end()
    fast.end()
    first, second = exporter.get_finished_spans()
    assert (first.name, _seen(first)) == (second.name, _seen(second))
    assert second.name == "POST /api/orders/"


def test_an_ended_span_keeps_its_name(caplog: pytest.LogCaptureFixture) -> None:
    exporter, _, fast = _pair()
    fast.end()
    with caplog.at_level(logging.WARNING):
        set_built_attributes(fast, {}, name="POST /api/orders/")
    (span,) = exporter.get_finished_spans()
    assert span.name == "POST"
    assert "Tried calling update_name on an ended span" in caplog.text
