"""Values that cannot be stored as they are, made storable: the slow path of one bad span.

A row must never cost another request its row, so whatever one span carries that flattening or
the store cannot take is replaced here, and the span is stored with the replacement instead of
failing its batch. This runs only after the fast path has failed for that span or row; the usual
span never comes here (docs/operations.md, "One bad span").

- Text that is not valid Unicode (a lone surrogate: a header decoded with `surrogateescape`, an
  OTLP/JSON `\\ud800` escape, invalid UTF-8 read leniently) cannot be encoded as UTF-8, which
  orjson, the C speedups, Arrow and DuckDB all need. Each such code point becomes U+FFFD, the
  Unicode replacement character, which is how the stored value shows the repair.
- A JSON column the database refuses is stored as a JSON string of its text (text, not JSON), as
  a body that claims JSON but does not parse already is.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import orjson

from .row import JSON_POSITIONS

REPLACEMENT = "\ufffd"


def clean_text(text: str) -> str:
    """`text` with every lone surrogate replaced by U+FFFD (a valid surrogate pair is joined)."""
    try:
        text.encode()
    except UnicodeEncodeError:
        # UTF-16 with surrogatepass turns a pair back into its character; a lone half is replaced.
        return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    return text


def clean(value: Any) -> Any:
    """Any attribute value with every string in it (dict keys too) made valid Unicode."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, tuple | list):
        return type(value)(clean(item) for item in value)
    if isinstance(value, dict):
        return {clean(key): clean(item) for key, item in value.items()}
    return value


def clean_attributes(attributes: Mapping[str, Any]) -> dict[str, Any]:
    """A span's attributes as a plain dict with every key and string value cleaned."""
    return {clean_text(key) if isinstance(key, str) else str(key): clean(value) for key, value in attributes.items()}


def clean_events(events: Iterable[tuple[str, Mapping[str, Any]]]) -> list[tuple[str, dict[str, Any]]]:
    return [(clean_text(name) if isinstance(name, str) else "", clean_attributes(attrs)) for name, attrs in events]


def clean_row(values: tuple[Any, ...]) -> tuple[Any, ...]:
    """A row's values with every text column cleaned (a surrogate Arrow cannot encode)."""
    return tuple(clean_text(value) if isinstance(value, str) else value for value in values)


def json_as_text(values: tuple[Any, ...], is_valid: Any) -> tuple[Any, ...]:
    """A row whose JSON columns that `is_valid(text)` refuses are stored as JSON strings instead."""
    out = list(values)
    for i in JSON_POSITIONS:
        text = out[i]
        if isinstance(text, str) and not is_valid(text):
            out[i] = orjson.dumps(clean_text(text)).decode()
    return tuple(out)


def flatten_cleaned(build: Any, arguments: tuple[Any, ...]) -> tuple[Any, ...] | None:
    """`build(*arguments)` (`flatten.build_values`'s positional arguments) with every text cleaned.

    For a span whose flattening raised; raises again when it still cannot be flattened.
    """
    attributes, events, start_ns, end_ns, trace_id, span_id, service_name, redactor = arguments
    values: tuple[Any, ...] | None = build(
        clean_attributes(attributes),
        clean_events(events),
        start_ns,
        end_ns,
        trace_id,
        span_id,
        clean(service_name),
        redactor,
    )
    return values
