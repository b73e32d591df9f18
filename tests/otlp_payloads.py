"""OTLP payloads for the collector's tests: SDK spans encoded as the stock exporter encodes them.

`encode_spans` is the function `OTLPSpanExporter` itself uses, so protobuf payloads here are what a
real client sends. OTLP/JSON is derived from the same message: protobuf's JSON mapping already uses
lowerCamelCase keys and int64-as-string; only the ids differ (OTLP/JSON wants hex, not base64).
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from typing import Any

import orjson
from google.protobuf import json_format
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span
from opentelemetry.sdk.trace import ReadableSpan

_ID_KEYS = {"traceId", "spanId", "parentSpanId"}
SERVER = Span.SpanKind.SPAN_KIND_SERVER


def otlp_request(spans: Sequence[ReadableSpan]) -> ExportTraceServiceRequest:
    """The request `OTLPSpanExporter` would send for `spans`."""
    return encode_spans(spans)


def to_otlp_json(message: ExportTraceServiceRequest) -> bytes:
    """OTLP/JSON bytes for `message`: hex ids, lowerCamelCase keys, 64-bit integers as strings."""
    return orjson.dumps(_hex_ids(json_format.MessageToDict(message)))


def _hex_ids(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: base64.b64decode(v).hex() if k in _ID_KEYS and isinstance(v, str) else _hex_ids(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_hex_ids(v) for v in value]
    return value


def any_value(value: Any) -> AnyValue:
    """A Python value as an OTLP `AnyValue` (tuples/lists -> array, dicts -> kvlist)."""
    if isinstance(value, bool):
        return AnyValue(bool_value=value)
    if isinstance(value, int):
        return AnyValue(int_value=value)
    if isinstance(value, float):
        return AnyValue(double_value=value)
    if isinstance(value, bytes):
        return AnyValue(bytes_value=value)
    if isinstance(value, list | tuple):
        out = AnyValue()
        out.array_value.values.extend(any_value(v) for v in value)
        return out
    if isinstance(value, dict):
        out = AnyValue()
        out.kvlist_value.values.extend(KeyValue(key=k, value=any_value(v)) for k, v in value.items())
        return out
    if value is None:
        return AnyValue()
    return AnyValue(string_value=str(value))


def pb_span(
    attributes: Mapping[str, Any],
    *,
    trace_id: bytes = bytes(range(1, 17)),
    span_id: bytes = bytes(range(1, 9)),
    kind: int = SERVER,
    start: int = 1_763_564_132_673_075_000,
    end: int = 1_763_564_132_789_033_000,
    events: Sequence[tuple[str, Mapping[str, Any]]] = (),
) -> Span:
    """A protobuf span built by hand, for payloads no SDK would produce."""
    span = Span(
        trace_id=trace_id,
        span_id=span_id,
        name="GET /",
        kind=kind,  # type: ignore[arg-type]
        start_time_unix_nano=start,
        end_time_unix_nano=end,
    )
    span.attributes.extend(KeyValue(key=k, value=any_value(v)) for k, v in attributes.items())
    for name, event_attributes in events:
        event = span.events.add(name=name, time_unix_nano=start)
        event.attributes.extend(KeyValue(key=k, value=any_value(v)) for k, v in event_attributes.items())
    return span


def pb_request(spans: Sequence[Span], *, service: str | None = "remote-service") -> ExportTraceServiceRequest:
    """One resource (with `service.name` when given) and one scope holding `spans`."""
    resource_spans = ResourceSpans()
    if service is not None:
        resource_spans.resource.attributes.append(KeyValue(key="service.name", value=AnyValue(string_value=service)))
    resource_spans.scope_spans.append(ScopeSpans(spans=list(spans)))
    return ExportTraceServiceRequest(resource_spans=[resource_spans])
