"""OTLP/JSON trace requests -> rows: hex ids, lowerCamelCase keys, 64-bit integers as decimal strings.

The JSON twin of `otlp.decode_protobuf`, through the same `build_values` and the same rules: an
envelope that is not an `ExportTraceServiceRequest` raises `OtlpDecodeError` (400), a span whose
fields have the wrong types is rejected and counted, and a field this module does not know is
ignored, as protobuf ignores unknown fields. protobuf's own `json_format` is not used: it wants
base64 ids, which OTLP/JSON does not send (docs/design-notes.md).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable, Mapping
from typing import Any

import orjson

from instrumentation import attributes as attr

from .otlp import (
    SPAN_KIND_SERVER,
    DecodedRequest,
    OtlpDecodeError,
    SpanError,
    add_row,
    build,
    flag_budget,
    id_hex,
    wanted,
)
from .otlp_budget import Dropped, json_within_budget
from .otlp_wire import MAX_DEPTH
from .redaction import Redactor

_ANY_VALUE_KINDS = frozenset(
    {"stringValue", "boolValue", "intValue", "doubleValue", "bytesValue", "arrayValue", "kvlistValue"}
)


def decode_json(data: bytes, *, redactor: Redactor) -> DecodedRequest:
    """Decode an OTLP/JSON `ExportTraceServiceRequest` (hex ids, lowerCamelCase keys, int64 as strings).

    Raises `OtlpDecodeError` for invalid JSON (including invalid UTF-8) or a malformed envelope.
    """
    try:
        request = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        request = lenient_loads(data, exc)
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
        except SpanError as exc:
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
                    attributes, dropped = _span_attributes(span.get("attributes"))
                    row = build(
                        out,
                        where,
                        attributes,
                        events=_json_events(span.get("events")),
                        start_ns=_json_uint64(span.get("startTimeUnixNano"), "startTimeUnixNano"),
                        end_ns=_json_uint64(span.get("endTimeUnixNano"), "endTimeUnixNano"),
                        trace_id=_json_id(span.get("traceId"), 16, "traceId"),
                        span_id=_json_id(span.get("spanId"), 8, "spanId"),
                        service_name=service,
                        redactor=redactor,
                    )
                except SpanError as exc:
                    out.reject(where, str(exc))
                    continue
                add_row(out, flag_budget(out, where, row, dropped))
    return out


def lenient_loads(data: bytes, error: orjson.JSONDecodeError) -> Any:
    """The slow path of a request orjson refused: one bad value must not cost the whole request.

    orjson refuses a lone `\\ud800` escape, numbers beyond a double (`1e999`), `NaN` and nesting
    deeper than 1024; the standard library reads the first three (a surrogate stays in the string,
    for `otlp.build` to replace, so only its span is marked). Invalid UTF-8 is read with
    `surrogateescape`, so it too becomes a surrogate in its own span. Nesting is cut at
    `_MAX_JSON_DEPTH`, deeper than any value a row reads (`MAX_DEPTH` AnyValues), so the parser's
    recursion stays bounded. Raises `OtlpDecodeError` when even that does not parse.
    """
    text = data.decode("utf-8", "surrogateescape")
    try:
        return json.loads(_cut_depth(text, _MAX_JSON_DEPTH))
    except (ValueError, RecursionError):
        raise OtlpDecodeError(f"malformed OTLP/JSON: {error}") from error


_MAX_JSON_DEPTH = 4 * MAX_DEPTH + 16  # an AnyValue level is at most 4 JSON levels; 16 for the envelope
_STRUCTURE = re.compile(r'["\\\[\]{}]')


def _cut_depth(text: str, limit: int) -> str:
    """JSON text with every value nested deeper than `limit` replaced by null (strings left alone)."""
    depth = 0
    out: list[str] = []
    at = 0  # text before this is decided
    skip_from = -1  # where a value that is too deep started
    in_string = False
    escaped_at = -2
    for match in _STRUCTURE.finditer(text):
        char, pos = match.group(), match.start()
        if in_string:
            if char == "\\" and escaped_at != pos - 1:
                escaped_at = pos
            elif char == '"' and escaped_at != pos - 1:
                in_string = False
            continue
        if char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth == limit + 1:
                out.append(text[at:pos])
                skip_from = pos
        elif char in "]}":
            if depth == limit + 1 and skip_from >= 0:
                out.append("null")
                at = pos + 1
                skip_from = -1
            depth -= 1
    if not out:
        return text
    out.append(text[at:])
    return "".join(out)


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
    raise SpanError(f"kind must be an integer, got {type(kind).__name__}")


def _json_uint64(value: Any, name: str) -> int:
    if value is None:
        return 0
    if isinstance(value, str) and value.isascii() and value.isdigit():
        number = int(value)
    elif isinstance(value, int) and not isinstance(value, bool):
        number = value
    else:
        raise SpanError(f"{name} must be an unsigned 64-bit integer (a decimal string), got {value!r:.40}")
    if not 0 <= number < 1 << 64:
        raise SpanError(f"{name} is out of the unsigned 64-bit range")
    return number


def _json_id(value: Any, size: int, name: str) -> str:
    if value is None:
        value = ""  # omitted, as the JSON mapping omits an empty field: reported as 0 bytes
    if not isinstance(value, str):
        raise SpanError(f"{name} must be a hex string, got {type(value).__name__}")
    try:
        raw = bytes.fromhex(value) if value.isascii() else b""
    except ValueError:
        raise SpanError(f"{name} is not hex: {value!r:.40}") from None
    return id_hex(raw, size, name)


def _json_events(events: Any) -> list[tuple[str, Mapping[str, Any]]]:
    if events is None:
        return []
    if not isinstance(events, list):
        raise SpanError("events must be a list")
    out: list[tuple[str, Mapping[str, Any]]] = []
    for event in events:
        if not isinstance(event, dict):
            raise SpanError("events must be a list of objects")
        if event.get("name") == attr.EXCEPTION_EVENT:
            out.append((attr.EXCEPTION_EVENT, _json_attributes(event.get("attributes"), wanted)))
    return out


def _span_attributes(attributes: Any) -> tuple[dict[str, Any], Dropped | None]:
    """A span's attributes, its header attributes within their byte budget (`otlp_budget`)."""
    dropped = None
    if isinstance(attributes, list):
        attributes, dropped = json_within_budget(attributes, wanted)
    return _json_attributes(attributes, wanted), dropped


def _json_attributes(attributes: Any, wanted: Callable[[str], bool]) -> dict[str, Any]:
    if attributes is None:
        return {}
    if not isinstance(attributes, list):
        raise SpanError("attributes must be a list of {key, value} objects")
    out = {}
    for kv in attributes:
        key = kv.get("key", "") if isinstance(kv, dict) else None  # the JSON mapping omits an empty key
        if not isinstance(key, str):
            raise SpanError("attributes must be a list of {key, value} objects")
        if wanted(key):
            out[key] = _json_value(kv.get("value"), key, 0)
    return out


def _json_value(value: Any, key: str, depth: int) -> Any:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise SpanError(f"attribute {key!r:.60}: value must be an AnyValue object")
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
            raise SpanError(f"attribute {key!r:.60}: intValue must be an integer") from None
        if not -(1 << 63) <= number < 1 << 63:
            raise SpanError(f"attribute {key!r:.60}: intValue is out of the 64-bit range")
        return number
    if kind == "doubleValue" and not isinstance(item, bool):
        try:
            return float(item)  # numbers, and the JSON mapping's "NaN" / "Infinity" strings
        except (TypeError, ValueError):
            raise SpanError(f"attribute {key!r:.60}: doubleValue must be a number") from None
    if kind == "bytesValue" and isinstance(item, str):
        try:
            return base64.b64decode(item, validate=True)
        except (binascii.Error, ValueError):
            raise SpanError(f"attribute {key!r:.60}: bytesValue must be base64") from None
    if kind in ("arrayValue", "kvlistValue") and isinstance(item, dict):
        values = item.get("values") or []
        if not isinstance(values, list):
            raise SpanError(f"attribute {key!r:.60}: {kind}.values must be a list")
        if depth >= MAX_DEPTH:
            return None
        if kind == "arrayValue":
            return tuple(_json_value(v, key, depth + 1) for v in values)
        if not all(isinstance(kv, dict) and isinstance(kv.get("key", ""), str) for kv in values):
            raise SpanError(f"attribute {key!r:.60}: kvlistValue.values must be {{key, value}} objects")
        return {kv.get("key", ""): _json_value(kv.get("value"), key, depth + 1) for kv in values}
    raise SpanError(f"attribute {key!r:.60}: unsupported or mistyped AnyValue {kind!r:.30}")
