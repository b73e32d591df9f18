"""OTLP trace requests (protobuf or OTLP/JSON) -> `RequestLog` rows, and the answers the receiver sends.

Both encodings go through `flatten.build_values`, the function the in-process exporter uses, so a
span makes the same row whichever way it arrives (rows are value tuples in `RequestLog` column
order, what the store's batch path takes). Decoding reads only what a row needs: the span kind
first (most spans of a trace are not HTTP server spans and are skipped untouched), then the ids,
times, `exception` events and the attributes `flatten` reads. upb parses lazily and every field
touched costs a Python object, so values of attributes no row uses are never converted (FACTS.md).

Errors come at two levels. A payload that is not an `ExportTraceServiceRequest` at all (truncated
protobuf, invalid JSON, a wrong type in the envelope) raises `OtlpDecodeError`: the receiver answers
400. A span that cannot become a row (ids of the wrong length, no start time, wrong field types) is
*rejected* and counted; the rest of the request is stored, and the answer carries `partial_success`.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import orjson
from google.protobuf.message import DecodeError
from google.rpc import status_pb2
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTracePartialSuccess,
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from instrumentation import attributes as attr

from .errors import RequestLogError
from .flatten import build_values
from .redaction import Redactor

logger = logging.getLogger(__name__)

SPAN_KIND_SERVER = 2
_MAX_MESSAGES = 5  # reasons quoted in a partial-success message; the count says how many there were
_MAX_DEPTH = 32  # nested arrays/maps deeper than this become None (a row never needs them)
_ANY_VALUE_KINDS = frozenset(
    {"stringValue", "boolValue", "intValue", "doubleValue", "bytesValue", "arrayValue", "kvlistValue"}
)
_HEADER_PREFIXES = (attr.REQUEST_HEADER_PREFIX, attr.RESPONSE_HEADER_PREFIX)
# Every key `flatten` can read is a constant of `instrumentation.attributes` (the rule for adding one),
# so this set follows it; the same-row test in tests/test_collector_same_row.py guards the contract.
_WANTED = frozenset(
    value for name, value in vars(attr).items() if name.isupper() and isinstance(value, str) and "." in value
)


class OtlpDecodeError(RequestLogError, ValueError):
    """The payload is not a valid `ExportTraceServiceRequest`; the message says what is wrong."""


@dataclasses.dataclass(slots=True)
class DecodedRequest:
    """What one OTLP request holds: the rows to store and what happened to the other spans.

    `rows` are value tuples in `RequestLog` column order (`RequestLog(*values)` makes the object).

    `ignored` counts spans that are not HTTP server spans (no row to make; not an error).
    `rejected` counts spans that are malformed; `errors` quotes the first few reasons.
    """

    rows: list[tuple[Any, ...]] = dataclasses.field(default_factory=list)
    spans: int = 0
    ignored: int = 0
    rejected: int = 0
    errors: list[str] = dataclasses.field(default_factory=list)

    def reject(self, where: str, reason: str) -> None:
        self.rejected += 1
        if len(self.errors) < _MAX_MESSAGES:
            self.errors.append(f"{where}: {reason}")

    @property
    def error_message(self) -> str:
        """The partial-success message: the first reasons, and how many spans were rejected."""
        if not self.rejected:
            return ""
        more = self.rejected - len(self.errors)
        suffix = f"; and {more} more" if more > 0 else ""
        return f"{self.rejected} span(s) rejected: " + "; ".join(self.errors) + suffix


class _SpanError(Exception):
    """One span cannot become a row; the message names the field."""


# -- protobuf ---------------------------------------------------------------------------------


def decode_protobuf(data: bytes, *, redactor: Redactor) -> DecodedRequest:
    """Decode a binary `ExportTraceServiceRequest`. Raises `OtlpDecodeError` when it does not parse."""
    request = ExportTraceServiceRequest()
    try:
        request.ParseFromString(data)
    except (DecodeError, ValueError, RuntimeError) as exc:
        raise OtlpDecodeError(f"malformed protobuf ExportTraceServiceRequest: {exc}") from exc
    out = DecodedRequest()
    for r, resource_spans in enumerate(request.resource_spans):
        service = _pb_service_name(resource_spans.resource.attributes)
        for s, scope_spans in enumerate(resource_spans.scope_spans):
            for i, span in enumerate(scope_spans.spans):
                out.spans += 1
                if span.kind != SPAN_KIND_SERVER:
                    out.ignored += 1
                    continue
                where = f"resource_spans[{r}].scope_spans[{s}].spans[{i}]"
                try:
                    row = _build(
                        where,
                        _pb_attributes(span.attributes),
                        events=_pb_events(span.events),
                        start_ns=span.start_time_unix_nano,
                        end_ns=span.end_time_unix_nano,
                        trace_id=_id_hex(span.trace_id, 16, "trace_id"),
                        span_id=_id_hex(span.span_id, 8, "span_id"),
                        service_name=service,
                        redactor=redactor,
                    )
                except _SpanError as exc:
                    out.reject(where, str(exc))
                    continue
                _add(out, row)
    return out


def _pb_service_name(attributes: Iterable[Any]) -> str | None:
    for kv in attributes:
        if kv.key == attr.SERVICE_NAME:
            value = _pb_value(kv.value, 0)
            return value if isinstance(value, str) else None if value is None else str(value)
    return None


def _pb_attributes(attributes: Iterable[Any]) -> dict[str, Any]:
    out = {}
    for kv in attributes:
        key = kv.key
        if key in _WANTED or key.startswith(_HEADER_PREFIXES):
            out[key] = _pb_value(kv.value, 0)
    return out


def _pb_events(events: Iterable[Any]) -> list[tuple[str, Mapping[str, Any]]]:
    # Only `exception` events feed the row; the others are not converted at all.
    return [(attr.EXCEPTION_EVENT, _pb_attributes(e.attributes)) for e in events if e.name == attr.EXCEPTION_EVENT]


def _pb_value(value: Any, depth: int) -> Any:
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        if depth >= _MAX_DEPTH:
            return None
        return tuple(_pb_value(v, depth + 1) for v in value.array_value.values)
    if kind == "kvlist_value":
        if depth >= _MAX_DEPTH:
            return None
        return {kv.key: _pb_value(kv.value, depth + 1) for kv in value.kvlist_value.values}
    return getattr(value, kind)


def _id_hex(raw: bytes, size: int, name: str) -> str:
    if len(raw) != size:
        raise _SpanError(f"{name} has {len(raw)} bytes, expected {size}")
    if not any(raw):
        raise _SpanError(f"{name} is all zeros")
    return raw.hex()


# -- OTLP/JSON --------------------------------------------------------------------------------


def decode_json(data: bytes, *, redactor: Redactor) -> DecodedRequest:
    """Decode an OTLP/JSON `ExportTraceServiceRequest` (hex ids, lowerCamelCase keys, int64 as strings).

    Raises `OtlpDecodeError` for invalid JSON (including invalid UTF-8) or a malformed envelope.
    """
    try:
        request = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise OtlpDecodeError(f"malformed OTLP/JSON: {exc}") from exc
    if not isinstance(request, dict):
        raise OtlpDecodeError("malformed OTLP/JSON: the request must be an object")
    out = DecodedRequest()
    for r, resource_spans in enumerate(_envelope_list(request, "resourceSpans", "request")):
        where_r = f"resourceSpans[{r}]"
        resource = resource_spans.get("resource", {})
        if not isinstance(resource, dict):
            raise OtlpDecodeError(f"malformed OTLP/JSON: {where_r}.resource must be an object")
        try:
            service = _json_attributes(resource.get("attributes"), {attr.SERVICE_NAME}.__contains__).get(
                attr.SERVICE_NAME
            )
        except _SpanError as exc:
            raise OtlpDecodeError(f"malformed OTLP/JSON: {where_r}.resource: {exc}") from exc
        service = service if service is None or isinstance(service, str) else str(service)
        for s, scope_spans in enumerate(_envelope_list(resource_spans, "scopeSpans", where_r)):
            for i, span in enumerate(_envelope_list(scope_spans, "spans", f"{where_r}.scopeSpans[{s}]")):
                out.spans += 1
                where = f"{where_r}.scopeSpans[{s}].spans[{i}]"
                try:
                    if _json_kind(span.get("kind")) != SPAN_KIND_SERVER:
                        out.ignored += 1
                        continue
                    row = _build(
                        where,
                        _json_attributes(span.get("attributes"), _wanted),
                        events=_json_events(span.get("events")),
                        start_ns=_json_uint64(span.get("startTimeUnixNano"), "startTimeUnixNano"),
                        end_ns=_json_uint64(span.get("endTimeUnixNano"), "endTimeUnixNano"),
                        trace_id=_json_id(span.get("traceId"), 16, "traceId"),
                        span_id=_json_id(span.get("spanId"), 8, "spanId"),
                        service_name=service,
                        redactor=redactor,
                    )
                except _SpanError as exc:
                    out.reject(where, str(exc))
                    continue
                _add(out, row)
    return out


def _wanted(key: str) -> bool:
    return key in _WANTED or key.startswith(_HEADER_PREFIXES)


def _envelope_list(container: dict[str, Any], key: str, where: str) -> list[dict[str, Any]]:
    items = container.get(key)
    if items is None:
        return []
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise OtlpDecodeError(f"malformed OTLP/JSON: {where}.{key} must be a list of objects")
    return items


def _json_kind(kind: Any) -> int | None:
    # OTLP/JSON sends enums as integers; the protobuf JSON mapping's names are accepted too.
    if isinstance(kind, int) and not isinstance(kind, bool):
        return kind
    if kind is None:
        return 0
    if kind == "SPAN_KIND_SERVER":
        return SPAN_KIND_SERVER
    if isinstance(kind, str):
        return 0
    raise _SpanError(f"kind must be an integer, got {type(kind).__name__}")


def _json_uint64(value: Any, name: str) -> int:
    if value is None:
        return 0
    if isinstance(value, str) and value.isascii() and value.isdigit():
        number = int(value)
    elif isinstance(value, int) and not isinstance(value, bool):
        number = value
    else:
        raise _SpanError(f"{name} must be an unsigned 64-bit integer (a decimal string), got {value!r:.40}")
    if not 0 <= number < 1 << 64:
        raise _SpanError(f"{name} is out of the unsigned 64-bit range")
    return number


def _json_id(value: Any, size: int, name: str) -> str:
    if value is None:
        value = ""  # omitted, as the JSON mapping omits an empty field: reported as 0 bytes
    if not isinstance(value, str):
        raise _SpanError(f"{name} must be a hex string, got {type(value).__name__}")
    try:
        raw = bytes.fromhex(value) if value.isascii() else b""
    except ValueError:
        raise _SpanError(f"{name} is not hex: {value!r:.40}") from None
    return _id_hex(raw, size, name)


def _json_events(events: Any) -> list[tuple[str, Mapping[str, Any]]]:
    if events is None:
        return []
    if not isinstance(events, list):
        raise _SpanError("events must be a list")
    out = []
    for event in events:
        if not isinstance(event, dict):
            raise _SpanError("events must be a list of objects")
        if event.get("name") == attr.EXCEPTION_EVENT:
            out.append((attr.EXCEPTION_EVENT, _json_attributes(event.get("attributes"), _wanted)))
    return out


def _json_attributes(attributes: Any, wanted: Callable[[str], bool]) -> dict[str, Any]:
    if attributes is None:
        return {}
    if not isinstance(attributes, list):
        raise _SpanError("attributes must be a list of {key, value} objects")
    out = {}
    for kv in attributes:
        key = kv.get("key", "") if isinstance(kv, dict) else None  # the JSON mapping omits an empty key
        if not isinstance(key, str):
            raise _SpanError("attributes must be a list of {key, value} objects")
        if wanted(key):
            out[key] = _json_value(kv.get("value"), key, 0)
    return out


def _json_value(value: Any, key: str, depth: int) -> Any:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise _SpanError(f"attribute {key!r:.60}: value must be an AnyValue object")
    # Unknown fields are ignored, as protobuf does: the value is the first known AnyValue field.
    kind = next((k for k in value if k in _ANY_VALUE_KINDS), None)
    if kind is None:
        return None
    item = value[kind]
    if kind == "stringValue" and isinstance(item, str):
        return item
    if kind == "boolValue" and isinstance(item, bool):
        return item
    if kind == "intValue" and not isinstance(item, bool | float):
        try:
            number = int(item)
        except (TypeError, ValueError):
            raise _SpanError(f"attribute {key!r:.60}: intValue must be an integer") from None
        if not -(1 << 63) <= number < 1 << 63:
            raise _SpanError(f"attribute {key!r:.60}: intValue is out of the 64-bit range")
        return number
    if kind == "doubleValue" and not isinstance(item, bool):
        try:
            return float(item)  # numbers, and the JSON mapping's "NaN" / "Infinity" strings
        except (TypeError, ValueError):
            raise _SpanError(f"attribute {key!r:.60}: doubleValue must be a number") from None
    if kind == "bytesValue" and isinstance(item, str):
        try:
            return base64.b64decode(item, validate=True)
        except (binascii.Error, ValueError):
            raise _SpanError(f"attribute {key!r:.60}: bytesValue must be base64") from None
    if kind in ("arrayValue", "kvlistValue") and isinstance(item, dict):
        values = item.get("values") or []
        if not isinstance(values, list):
            raise _SpanError(f"attribute {key!r:.60}: {kind}.values must be a list")
        if depth >= _MAX_DEPTH:
            return None
        if kind == "arrayValue":
            return tuple(_json_value(v, key, depth + 1) for v in values)
        if not all(isinstance(kv, dict) and isinstance(kv.get("key", ""), str) for kv in values):
            raise _SpanError(f"attribute {key!r:.60}: kvlistValue.values must be {{key, value}} objects")
        return {kv.get("key", ""): _json_value(kv.get("value"), key, depth + 1) for kv in values}
    raise _SpanError(f"attribute {key!r:.60}: unsupported or mistyped AnyValue {kind!r:.30}")


# -- shared -----------------------------------------------------------------------------------


def _build(where: str, attributes: dict[str, Any], *, start_ns: int, **kwargs: Any) -> tuple[Any, ...] | None:
    if not start_ns:
        raise _SpanError("start_time_unix_nano is missing")
    try:
        return build_values(attributes, start_ns=start_ns, **kwargs)
    except Exception as exc:
        # build_values promises not to raise on any attribute value; if it does anyway, that is our
        # bug, and it must cost one span, not the whole request.
        logger.exception("could not flatten %s", where)
        raise _SpanError(f"could not be flattened ({type(exc).__name__})") from exc


def _add(out: DecodedRequest, row: tuple[Any, ...] | None) -> None:
    if row is None:
        out.ignored += 1  # a server span without an HTTP method: not a request log
    else:
        out.rows.append(row)


# -- answers ----------------------------------------------------------------------------------


def encode_response(decoded: DecodedRequest, *, json: bool) -> bytes:
    """`ExportTraceServiceResponse`, with `partial_success` set only when spans were rejected."""
    if json:
        if not decoded.rejected:
            return b"{}"
        partial = {"rejectedSpans": str(decoded.rejected), "errorMessage": decoded.error_message}
        return orjson.dumps({"partialSuccess": partial})
    response = ExportTraceServiceResponse()
    if decoded.rejected:
        response.partial_success.CopyFrom(
            ExportTracePartialSuccess(rejected_spans=decoded.rejected, error_message=decoded.error_message)
        )
    return response.SerializeToString()


def encode_status(code: int, message: str, *, json: bool) -> bytes:
    """A `google.rpc.Status` (gRPC `code`, `message`): the body OTLP/HTTP gives every 4xx and 5xx."""
    if json:
        return orjson.dumps({"code": code, "message": message})
    return status_pb2.Status(code=code, message=message).SerializeToString()
