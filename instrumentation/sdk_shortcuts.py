"""Work the OpenTelemetry SDK would do per request that cannot change a request-log span: when to skip it.

Both checks recognise only the SDK's own classes, by exact type (a subclass may override what they
do), and answer "do the work" for anything else, so a skipped step can only be absent, never
different:

- `sampler_ignores_attributes`: the SDK's samplers (always on/off, trace-id ratio, parent-based
  over those) decide without reading a span's start attributes and hand them back unchanged, and the
  SDK then re-checks every value. With them, the middleware starts the span with no attributes and
  writes the request's attributes and headers when it ends, in the same write as the response's
  (`span_attributes`, `core.py`), so the span holds the same attributes in the same order. A custom
  sampler still gets them at start.
- `w3c_propagation`: the default global propagator (W3C trace context, then baggage) reads only
  its own headers; when none is in the request, extracting yields a new empty context (or the
  current one, when baggage comes first), so it is skipped and that context used directly.
"""

from __future__ import annotations

from typing import Any

from opentelemetry.baggage.propagation import W3CBaggagePropagator
from opentelemetry.propagators.composite import CompositePropagator
from opentelemetry.sdk.trace import Tracer as SdkTracer
from opentelemetry.sdk.trace import sampling
from opentelemetry.trace import ProxyTracer, Tracer
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from .attributes import REQUEST_HEADER_PREFIX

_STATIC_SAMPLERS = frozenset(
    {
        sampling.StaticSampler,
        type(sampling.ALWAYS_ON),
        type(sampling.ALWAYS_OFF),
        sampling.TraceIdRatioBased,
    }
)
_PARENT_BASED = frozenset(
    {
        sampling.ParentBased,
        sampling.ParentBasedTraceIdRatio,
        type(sampling.DEFAULT_ON),
        type(sampling.DEFAULT_OFF),
    }
)
_DELEGATES = (
    "_root",
    "_remote_parent_sampled",
    "_remote_parent_not_sampled",
    "_local_parent_sampled",
    "_local_parent_not_sampled",
)
_W3C = (TraceContextTextMapPropagator, W3CBaggagePropagator)


def sampler_ignores_attributes(tracer: Tracer) -> bool | None:
    """Whether `tracer` is the SDK's and its sampler never reads start attributes.

    `None` while a proxy tracer has no real tracer yet (the global provider is not set): ask again.
    """
    if type(tracer) is ProxyTracer:
        real: Any = getattr(tracer, "_real_tracer", None)
        if real is None:
            return None
        tracer = real
    if type(tracer) is not SdkTracer:
        return False
    return _blind(getattr(tracer, "sampler", None), depth=0)


def _blind(sampler: Any, *, depth: int) -> bool:
    kind = type(sampler)
    if kind in _STATIC_SAMPLERS:
        return True
    if kind in _PARENT_BASED and depth < 4:
        return all(_blind(getattr(sampler, name, None), depth=depth + 1) for name in _DELEGATES)
    return False


# The header attribute keys of what it reads; whether extracting starts from an empty context.
W3CPropagation = tuple[tuple[str, ...], bool]


def w3c_propagation(textmap: object) -> W3CPropagation | None:
    """For the W3C default global propagator `textmap`: the header attribute keys
    (`http.request.header.` and the name) of the headers it reads, and whether extracting from a
    request with none of them gives an empty context (trace context first: its `extract` starts
    from `Context()`) rather than the current one. `None` for any other propagator."""
    parts = getattr(textmap, "_propagators", None)
    if type(textmap) is CompositePropagator and isinstance(parts, list | tuple) and parts:
        if all(type(part) in _W3C for part in parts):
            fields = tuple(sorted({REQUEST_HEADER_PREFIX + field for part in parts for field in part.fields}))
            return fields, type(parts[0]) is TraceContextTextMapPropagator
    return None
