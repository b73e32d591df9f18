"""The per-request work the middlewares skip (`sdk_shortcuts`, shared header tuples) changes nothing
a span, a sampler, a propagator or a framework can see; and a WSGI exchange is freed when its
response closes.

Each shortcut is compared with the path it skips: the same request through the same middleware with
the shortcut ruled out (a custom sampler, a custom propagator) must give the same span.
"""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from opentelemetry import context, propagate, trace
from opentelemetry.context import Context
from opentelemetry.propagators.textmap import CarrierT, Getter, TextMapPropagator, default_getter
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_ON,
    DEFAULT_ON,
    ParentBased,
    Sampler,
    SamplingResult,
    TraceIdRatioBased,
)
from opentelemetry.trace import Link, ProxyTracer, SpanKind
from opentelemetry.util.types import Attributes

from instrumentation import RequestLogWSGIMiddleware
from instrumentation.sdk_shortcuts import sampler_ignores_attributes, w3c_propagation

from .wsgi_helpers import call


class _PassThrough(Sampler):
    """Samples everything, keeps the start attributes it was given (as the SDK's own samplers do)."""

    def __init__(self) -> None:
        self.seen: list[dict[str, Any]] = []

    def should_sample(
        self,
        parent_context: Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        trace_state: Any = None,
    ) -> SamplingResult:
        self.seen.append(dict(attributes or {}))
        return ALWAYS_ON.should_sample(parent_context, trace_id, name, kind, attributes, links)

    def get_description(self) -> str:
        return "pass-through"


def _app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    environ["wsgi.input"].read()
    start_response("201 Created", [("Content-Type", "application/json"), ("X-Seen", "1")])
    return [b'{"ok": true}']


def _span_of(sampler: Sampler | None, **request: Any) -> ReadableSpan:
    exporter = InMemorySpanExporter()
    provider = TracerProvider() if sampler is None else TracerProvider(sampler=sampler)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    app = RequestLogWSGIMiddleware(_app, tracer_provider=provider)
    call(app, "POST", "/orders/7", query_string="page=2", json={"item": "tea"}, **request)
    (span,) = exporter.get_finished_spans()
    return span


def test_the_sdk_samplers_are_known_not_to_read_start_attributes() -> None:
    def tracer(sampler: Sampler) -> Any:
        return TracerProvider(sampler=sampler).get_tracer("t")

    assert sampler_ignores_attributes(TracerProvider().get_tracer("t")) is True  # parent-based always-on
    assert sampler_ignores_attributes(tracer(ParentBased(TraceIdRatioBased(0.5)))) is True
    assert sampler_ignores_attributes(tracer(DEFAULT_ON)) is True
    assert sampler_ignores_attributes(tracer(_PassThrough())) is False
    assert sampler_ignores_attributes(tracer(ParentBased(_PassThrough()))) is False
    assert sampler_ignores_attributes(tracer(ParentBased(ALWAYS_ON, local_parent_sampled=_PassThrough()))) is False
    assert sampler_ignores_attributes(ProxyTracer("t")) is None  # no global provider yet: ask again later
    assert sampler_ignores_attributes(trace.NoOpTracer()) is False


def test_a_span_under_the_default_sampler_is_the_span_a_custom_sampler_gets() -> None:
    """Same attributes, same values, same order (the SDK drops the oldest past its limit)."""
    custom = _PassThrough()
    through_sampler = _span_of(custom, headers={"X-Tenant": "acme"})
    shortcut = _span_of(None, headers={"X-Tenant": "acme"})
    assert list((shortcut.attributes or {}).items()) == list((through_sampler.attributes or {}).items())
    assert list(shortcut.attributes or {})[:4] == ["http.request.method", "url.scheme", "url.path", "url.query"]
    assert shortcut.attributes is not None and shortcut.attributes["http.request.header.x-tenant"] == ("acme",)
    # ...and a custom sampler still sees the request's attributes when it decides.
    assert custom.seen[-1]["http.request.method"] == "POST"
    assert custom.seen[-1]["url.path"] == "/orders/7"
    assert not any(key.startswith("http.request.header.") for key in custom.seen[-1])


def test_under_the_sdk_samplers_request_attributes_are_written_when_the_span_ends() -> None:
    """One write at the end: the live span carries none of the request's attributes yet (the app
    can see that), the app's own attributes are kept, and under reqlog's keys reqlog's values win."""
    seen: dict[str, Any] = {}

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        span: Any = trace.get_current_span()
        seen.update(span.attributes)
        span.set_attribute("url.path", "/set/by/the/app")
        span.set_attribute("app.tenant", "acme")
        return _app(environ, start_response)

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    call(RequestLogWSGIMiddleware(app, tracer_provider=provider), "POST", "/orders/7", json={"item": "tea"})
    (span,) = exporter.get_finished_spans()
    attributes = dict(span.attributes or {})
    assert seen == {}
    assert (attributes["url.path"], attributes["app.tenant"]) == ("/orders/7", "acme")
    assert attributes["http.request.method"] == "POST" and attributes["http.response.status_code"] == 201


def test_the_span_limit_still_drops_the_oldest_attributes_first() -> None:
    from opentelemetry.sdk.trace import SpanLimits

    spans = []
    for sampler in (_PassThrough(), None):
        exporter = InMemorySpanExporter()
        limits = SpanLimits(max_span_attributes=6)
        provider = TracerProvider(span_limits=limits, **({"sampler": sampler} if sampler else {}))
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        call(RequestLogWSGIMiddleware(_app, tracer_provider=provider), "POST", "/x", json={"a": 1})
        spans.append(exporter.get_finished_spans()[0])
    assert dict(spans[0].attributes or {}) == dict(spans[1].attributes or {})
    assert len(spans[1].attributes or {}) == 6
    assert spans[0].dropped_attributes == spans[1].dropped_attributes > 0


class _Recording(TextMapPropagator):
    """A propagator that is not the W3C default: it must be asked for every request."""

    def __init__(self) -> None:
        self.extracted = 0

    def extract(
        self, carrier: CarrierT, context: Context | None = None, getter: Getter[CarrierT] = default_getter
    ) -> Context:
        self.extracted += 1
        return context if context is not None else Context()

    def inject(self, carrier: CarrierT, context: Context | None = None, setter: Any = None) -> None:
        pass

    @property
    def fields(self) -> set[str]:
        return {"x-custom-trace"}


@pytest.fixture
def global_textmap() -> Iterator[None]:
    before = propagate.get_global_textmap()
    yield
    propagate.set_global_textmap(before)


def test_a_custom_propagator_is_asked_even_without_w3c_headers(global_textmap: None) -> None:
    recording = _Recording()
    propagate.set_global_textmap(recording)
    assert w3c_propagation(propagate.get_global_textmap()) is None
    _span_of(None)
    assert recording.extracted == 1


def test_without_w3c_headers_the_parent_is_what_extracting_would_give(global_textmap: None) -> None:
    from opentelemetry.baggage.propagation import W3CBaggagePropagator
    from opentelemetry.propagators.composite import CompositePropagator
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    app = RequestLogWSGIMiddleware(_app, tracer_provider=TracerProvider())
    marker = context.create_key("marker")
    for parts in (
        [TraceContextTextMapPropagator(), W3CBaggagePropagator()],  # the default: a fresh context
        [W3CBaggagePropagator(), TraceContextTextMapPropagator()],  # baggage first: the current one
    ):
        propagate.set_global_textmap(CompositePropagator(parts))
        token = context.attach(context.set_value(marker, "outer"))
        try:
            environ = {"HTTP_USER_AGENT": "t"}
            expected = propagate.extract(environ, getter=_EnvironGetter())
            got = app.parent(
                environ, _EnvironGetter(), {"http.request.header.user-agent": ("t",)}, context.get_current()
            )
            assert w3c_propagation(propagate.get_global_textmap()) is not None
            assert dict(got) == dict(expected)
        finally:
            context.detach(token)
    # With a traceparent, the SDK's extract runs: the remote span is the parent.
    parent = f"00-{'ab' * 16}-{'cd' * 8}-01"
    span = _span_of(None, headers={"traceparent": parent})
    assert span.parent is not None and span.parent.trace_id == int("ab" * 16, 16)


class _EnvironGetter(Getter[dict[str, Any]]):
    def get(self, carrier: dict[str, Any], key: str) -> list[str] | None:
        value = carrier.get("HTTP_" + key.upper().replace("-", "_"))
        return None if value is None else [value]

    def keys(self, carrier: dict[str, Any]) -> list[str]:
        return list(carrier)


class _Spans(SpanProcessor):
    def __init__(self) -> None:
        self.started: list[weakref.ref[Any]] = []

    def on_start(self, span: Any, parent_context: Context | None = None) -> None:
        self.started.append(weakref.ref(span))


def test_a_closed_wsgi_exchange_is_freed_without_the_cyclic_gc() -> None:
    """Frameworks keep the environ in reference cycles (Django's request does): what reqlog put in it
    must not keep the request's span and captures alive until the GC runs."""
    spans = _Spans()
    provider = TracerProvider()
    provider.add_span_processor(spans)
    app = RequestLogWSGIMiddleware(_app, tracer_provider=provider)
    gc.collect()
    gc.disable()
    try:
        answer = call(app, "POST", "/orders/7", json={"item": "tea"}, environ={})
        environ = getattr(answer.result, "carrier", None)  # a made response: the exchange is handed on
        assert environ is not None and "wsgi.input" in environ
        environ["cycle"] = environ  # as a framework's request object holding its environ would
        del answer, environ
        assert spans.started[0]() is None, "the span outlived its response until the cyclic GC"
    finally:
        gc.enable()


def test_repeated_header_values_share_one_tuple_and_the_cache_stays_bounded() -> None:
    from instrumentation.core import VALUE_CACHE_MAX_LENGTH, VALUE_CACHE_SIZE

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    app = RequestLogWSGIMiddleware(_app, tracer_provider=provider)
    for _ in range(2):
        call(app, "POST", "/x", json={"a": 1}, headers={"X-Tenant": "acme"})
    first, second = (span.attributes or {} for span in exporter.get_finished_spans())
    for key in ("http.request.header.x-tenant", "http.response.header.x-seen"):
        assert first[key] == second[key] == (("acme",) if "tenant" in key else ("1",))
        assert first[key] is second[key]  # no new object for the GC to count and track
    long_value = "v" * (VALUE_CACHE_MAX_LENGTH + 1)
    for number in range(VALUE_CACHE_SIZE + 50):  # every value distinct, as a hostile client sends them
        call(app, "POST", "/x", json={"a": 1}, headers={"X-Tenant": f"t{number}", "X-Long": long_value})
    assert len(app.value_tuples) <= VALUE_CACHE_SIZE
    assert ("v" * (VALUE_CACHE_MAX_LENGTH + 1)) not in app.value_tuples
    last = exporter.get_finished_spans()[-1].attributes or {}
    assert last["http.request.header.x-tenant"] == (f"t{VALUE_CACHE_SIZE + 49}",)
    assert last["http.request.header.x-long"] == (long_value,)


def test_each_header_set_gets_its_own_headers_and_the_remembered_sets_stay_bounded() -> None:
    """The WSGI side remembers which environ keys are headers per set of keys (`_plan`): a request
    whose set differs, even by one header, gets exactly its own headers, and a hostile client
    varying its header names cannot grow what is remembered."""
    from instrumentation import wsgi

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    app = RequestLogWSGIMiddleware(_app, tracer_provider=provider)
    for number in range(wsgi._PLAN_CACHE_SIZE + 20):
        call(app, "POST", "/x", json={"a": 1}, headers={f"X-Try-{number}": "1"})
        call(app, "POST", "/x", json={"a": 1})
    spans = exporter.get_finished_spans()
    for number, (varied, plain) in enumerate(zip(spans[::2], spans[1::2], strict=True)):
        keys = {key for key in varied.attributes or {} if key.startswith("http.request.header.x-try")}
        assert keys == {f"http.request.header.x-try-{number}"}
        assert not any(key.startswith("http.request.header.x-try") for key in plain.attributes or {})
    assert 0 < len(app._plans) <= wsgi._PLAN_CACHE_SIZE
    app._plans.clear()
    names = {f"X-{'n' * 200}-{number}": "1" for number in range(30)}  # 6,000 characters of names
    call(app, "POST", "/x", json={"a": 1}, headers=names)
    assert not app._plans  # too long to remember
    assert len([k for k in exporter.get_finished_spans()[-1].attributes or {} if "-nnn" in k]) == 30
