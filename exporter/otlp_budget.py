"""The byte budget of one OTLP span's header attributes, and the flag a cut leaves in the row.

A span names its headers by attribute (`http.request.header.*`, `http.response.header.*`), so their
number is the sender's choice. The SDK bounds it by count (`OTEL_ATTRIBUTE_COUNT_LIMIT`); a client
with an ingest token sends what it likes: one 13 MB span of 300,000 tiny header attributes held a
decoding process for ~22 s (naming, redacting and joining every header), only for the column to be
replaced by a note at `limits.MAX_JSON_CHARS`. So the header attributes of a span may bring at most
`limits.max_span_header_bytes()` bytes (as encoded: key and value); the first ones that fit are
kept, the rest dropped before they are decoded, and each header column that lost some says so under
the key `reqlog.truncated`, as `limits.cap_json` does. The other attributes are a fixed set of names,
each capped on its own (`limits`), and are never dropped here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from instrumentation import attributes as attr

from . import limits
from .row import COLUMN

TRUNCATED_KEY = "reqlog.truncated"
_PREFIXES = (attr.REQUEST_HEADER_PREFIX, attr.RESPONSE_HEADER_PREFIX)
_PREFIXES_UTF8 = tuple(prefix.encode() for prefix in _PREFIXES)


class Dropped:
    """What a span's budget dropped: attributes and their bytes, per direction (request, response)."""

    __slots__ = ("attributes", "nbytes")

    def __init__(self) -> None:
        self.attributes = [0, 0]
        self.nbytes = [0, 0]

    def add(self, direction: int, nbytes: int) -> None:
        self.attributes[direction] += 1
        self.nbytes[direction] += nbytes


def within_budget(encoded: list[bytes], budget: int) -> tuple[list[bytes], Dropped | None]:
    """A span's encoded `KeyValue`s with the header ones past `budget` left out, and what was.

    The caller first checks the usual span is far under the budget in all (`sum(map(len, ...))`,
    one C-level pass); only a span whose attributes pass it in all is looked at pair by pair here.
    """
    kept: list[bytes] = []
    dropped: Dropped | None = None
    used = 0
    for raw in encoded:
        direction = _header_direction(raw)
        if direction is not None:
            if used + len(raw) > budget:
                dropped = dropped or Dropped()
                dropped.add(direction, len(raw))
                continue
            used += len(raw)
        kept.append(raw)
    return kept, dropped


def json_within_budget(attributes: list[Any], wanted: Callable[[str], bool]) -> tuple[list[Any], Dropped | None]:
    """`within_budget` for OTLP/JSON `{key, value}` objects (a value's bytes: `_json_size`)."""
    budget = limits.max_span_header_bytes()
    kept: list[Any] = []
    dropped: Dropped | None = None
    used = 0
    for kv in attributes:
        key = kv.get("key") if isinstance(kv, dict) else None
        if isinstance(key, str) and wanted(key) and key.startswith(_PREFIXES):
            nbytes = len(key) + _json_size(kv.get("value"))
            if used + nbytes > budget:
                dropped = dropped or Dropped()
                dropped.add(0 if key.startswith(attr.REQUEST_HEADER_PREFIX) else 1, nbytes)
                continue
            used += nbytes
        kept.append(kv)
    return kept, dropped


def _json_size(value: Any) -> int:
    """About the bytes of an OTLP/JSON header value: its text, or its JSON when it is a list."""
    if isinstance(value, dict):
        text = value.get("stringValue")
        if isinstance(text, str):
            return len(text)
    try:
        return len(orjson.dumps(value, default=str))
    except orjson.JSONEncodeError:  # a lone surrogate from a lenient parse
        return len(repr(value))


def _header_direction(raw: bytes) -> int | None:
    """0 for a request header attribute, 1 for a response one, None for any other (or unparsed)."""
    # KeyValue: field 1 (0x0A) the key, its length a varint; keys longer than 127 bytes take more.
    if len(raw) < 2 or raw[0] != 0x0A:
        return None
    length, shift, at = 0, 0, 1
    while at < len(raw) and at < 11:
        byte = raw[at]
        length |= (byte & 0x7F) << shift
        at += 1
        if not byte & 0x80:
            break
        shift += 7
    key = raw[at : at + length]
    for direction, prefix in enumerate(_PREFIXES_UTF8):
        if key.startswith(prefix):
            return direction
    return None


def flag_dropped(row: tuple[Any, ...], dropped: Dropped) -> tuple[Any, ...]:
    """The row with each header column that lost attributes saying how many, under `reqlog.truncated`."""
    out = list(row)
    budget = limits.max_span_header_bytes()
    for direction, column in enumerate((COLUMN.request_headers, COLUMN.response_headers)):
        count = dropped.attributes[direction]
        if not count:
            continue
        try:
            headers = orjson.loads(out[column]) if out[column] else {}
        except orjson.JSONDecodeError:
            headers = {}
        if not isinstance(headers, dict):
            headers = {}
        headers[TRUNCATED_KEY] = (
            f"{count} header attribute(s) ({dropped.nbytes[direction]} bytes) past the span's budget of "
            f"{budget} bytes (REQLOG_INGEST_SPAN_HEADER_BYTES) not stored"
        )
        out[column] = orjson.dumps(headers).decode()
    return tuple(out)


def describe(dropped: Dropped) -> str:
    """The partial-success note for a span that lost header attributes."""
    return (
        f"{sum(dropped.attributes)} header attribute(s) past the span's budget of "
        f"{limits.max_span_header_bytes()} bytes dropped (flagged {TRUNCATED_KEY!r} in the headers)"
    )
