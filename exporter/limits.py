"""How much one value, one span and so one row may bring: the store's own caps on what strangers send.

Everything in a row comes from clients of an instrumented app, and any app holding an ingest token
can send spans no instrumentation would make. Rows with multi-megabyte strings can make DuckDB's
checkpoint fail to pin a block within `memory_limit`; DuckDB then invalidates the database (see
`docs/operations.md`, "What one request may store"). So, whatever the sender, a row stays small:

- a body (request or response) longer than `max_body_bytes` (default 1 MiB, above the
  instrumentation's own 64 KiB capture limit) is cut there *before* it is decoded, and flagged
  truncated exactly as the instrumentation flags it: the truncation flag set, the size kept (the
  real size when the span carried none), the prefix stored as a JSON string with secrets scrubbed;
- any other text column (exception message, traceback, path, user names, ...) longer than
  `MAX_TEXT_CHARS` is cut and ends with a marker saying how much was cut;
- a header or query column whose JSON passes `MAX_JSON_CHARS` has each value longer than
  `MAX_HEADER_VALUE_CHARS` (the user agent, a cookie) cut with the same marker; if it is still too
  long, it is replaced by an object saying so.

So a row is at most ~2 * max_body_bytes plus ~0.5 MiB. Pure functions; `configure` sets the body
cap once per process (the service's decoding workers call it from `ServiceSettings`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from .row import COLUMN
from .speedups import over_limit

DEFAULT_MAX_BODY_BYTES = 1024 * 1024
# Header attributes one OTLP span may bring, encoded (`otlp_budget`): twice the header column cap.
DEFAULT_MAX_SPAN_HEADER_BYTES = 512 * 1024
MAX_TEXT_CHARS = 64 * 1024
MAX_JSON_CHARS = 256 * 1024
MAX_HEADER_VALUE_CHARS = 8 * 1024
MARKER = "...[reqlog: cut {} characters]"

_max_body_bytes = DEFAULT_MAX_BODY_BYTES
_max_span_header_bytes = DEFAULT_MAX_SPAN_HEADER_BYTES

# Positions in the tuple `flatten.read_attributes(attributes, *_FIELDS)` returns (its field table,
# `flatten._FIELD_TABLE`; a test checks they agree): (content, size, truncated) per body.
BODY_FIELDS = ((11, 13, 14), (15, 17, 18))
_TEXT_COLUMNS = (
    COLUMN.user_id, COLUMN.username, COLUMN.user_full_name, COLUMN.ip, COLUMN.scheme, COLUMN.endpoint,
    COLUMN.method, COLUMN.exception_type, COLUMN.exception_message, COLUMN.exception_traceback,
    COLUMN.service_name, COLUMN.route,
)  # fmt: skip
_JSON_COLUMNS = (COLUMN.query_params, COLUMN.request_headers, COLUMN.response_headers)


def configure(*, max_body_bytes: int, max_span_header_bytes: int = DEFAULT_MAX_SPAN_HEADER_BYTES) -> None:
    """Set this process's body cap (bytes of UTF-8; at least 1 KiB) and span header budget (at least 1 KiB)."""
    global _max_body_bytes, _max_span_header_bytes
    if max_body_bytes < 1024:
        raise ValueError("max_body_bytes must be at least 1024")
    if max_span_header_bytes < 1024:
        raise ValueError("max_span_header_bytes must be at least 1024")
    _max_body_bytes = max_body_bytes
    _max_span_header_bytes = max_span_header_bytes


def max_body_bytes() -> int:
    return _max_body_bytes


def max_span_header_bytes() -> int:
    """Bytes of header attributes one OTLP span may bring (`otlp_budget`)."""
    return _max_span_header_bytes


def cap_fields(fields: Sequence[Any]) -> Any:
    """The attribute fields with each body past the cap cut and flagged; `fields` itself when none is."""
    limit = _max_body_bytes
    out: list[Any] | None = None
    for content_at, size_at, truncated_at in BODY_FIELDS:
        content = fields[content_at]
        if content is None or (type(content) is str and len(content) <= limit // 4):
            continue  # at most 4 bytes a character: surely under (a value of another type: `_cut_body`)
        cut, original = _cut_body(content, limit)
        if cut is None:
            continue
        if out is None:
            out = list(fields)
        out[content_at] = cut
        out[truncated_at] = True
        if type(out[size_at]) is not int:
            out[size_at] = original
    return fields if out is None else out


def _cut_body(content: Any, limit: int) -> tuple[Any, int]:
    """`(prefix of at most limit bytes, original size in bytes)`, or `(None, 0)` when it fits."""
    if isinstance(content, bytes | bytearray | memoryview):
        data = bytes(content)
        if len(data) <= limit:
            return None, 0
        # Cut on a character boundary, so the prefix still decodes as the text it was.
        return data[:limit].decode("utf-8", "ignore").encode("utf-8"), len(data)
    if not isinstance(content, str):
        return None, 0
    data = content.encode("utf-8", "surrogatepass")
    if len(data) <= limit:
        return None, 0
    return data[:limit].decode("utf-8", "ignore"), len(data)


def cap_values(values: tuple[Any, ...]) -> tuple[Any, ...]:
    """A row's values (column order) with over-long text and JSON columns cut; `values` when none is."""
    if not over_limit(values, _TEXT_COLUMNS, MAX_TEXT_CHARS, _JSON_COLUMNS, MAX_JSON_CHARS):
        return values  # the usual row: one pass in C (`speedups.over_limit`)
    out: list[Any] | None = None
    for index in _TEXT_COLUMNS:
        value = values[index]
        if type(value) is str and len(value) > MAX_TEXT_CHARS:
            if out is None:
                out = list(values)
            out[index] = cap_text(value, MAX_TEXT_CHARS)
    for index in _JSON_COLUMNS:
        value = values[index]
        if type(value) is str and len(value) > MAX_JSON_CHARS:
            if out is None:
                out = list(values)
            out[index] = cap_json(value)
    return values if out is None else tuple(out)


def cap_text(text: str, limit: int) -> str:
    """`text` cut to about `limit` characters, ending with the marker (unchanged when it fits)."""
    if len(text) <= limit:
        return text
    return text[:limit] + MARKER.format(len(text) - limit)


def cap_json(text: str) -> str:
    """A JSON object column with long string values cut; a note object when even that is too long."""
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        value = None
    if isinstance(value, dict):
        capped = {key[:MAX_HEADER_VALUE_CHARS]: _cap_value(item) for key, item in value.items()}
        out = orjson.dumps(capped).decode()
        if len(out) <= MAX_JSON_CHARS:
            return out
    return orjson.dumps({"reqlog.truncated": f"{len(text)} characters of JSON, too long to store"}).decode()


def _cap_value(value: Any) -> Any:
    if isinstance(value, str):
        return cap_text(value, MAX_HEADER_VALUE_CHARS)
    if isinstance(value, list):
        return [_cap_value(item) for item in value]
    if isinstance(value, dict):
        return {str(key)[:MAX_HEADER_VALUE_CHARS]: _cap_value(item) for key, item in value.items()}
    return value
