"""Fast paths for flattening's hottest steps: C (`_speedups.c`) when it was compiled, else Python.

`pip install` compiles `exporter/_speedups.c` when a C compiler is there (pyproject.toml marks the
extension optional). Flattening a realistic span (bench/spans.py: ~40 attributes, two 1 KB JSON
bodies) takes ~34 us of CPU with the Python versions below and ~12 us with C (`bench/exporter.py`).
The Python versions stay the reference: tests/exporter/test_speedups.py checks that both agree.

- `scan_json(text, redactor)`: whether a body is strict JSON, and if so whether it may hold a
  secret key, so that it must be parsed and walked (`Redactor.redact_value`). C checks the grammar
  and reads the object keys in one pass, never the string values, judging each key by the
  normalised rule (`Redactor.key_rule_utf8`: words, whole names, top-level names); Python
  validates with msgspec and scans the raw text (`Redactor.may_hold_secret`), which errs towards
  "may" more often (a value mentioning "token"), never the other way.
- `text_holds_secret(text, redactor)`: `Redactor.may_hold_secret`, the raw-text pre-scan of query
  strings, forms, text bodies and URL headers, exactly; C answers for ASCII text and leaves other
  text to Python.
- `query_json(query, redactor)`: the query_params column of a plain query string none of whose
  keys may be secret (each judged as `scan_json` judges a top-level key), or `None` when Python
  must parse it (escapes, `;`, non-ASCII, a possible secret).
- `decode_attributes(encoded, wanted, prefixes)`: an OTLP span's encoded attributes as a dict when
  every value is of a common kind (a string, an array of one string, a non-negative integer, a
  bool, a double); `None` otherwise, and `otlp_wire.AttributeDecoder` decodes them in Python.
- `read_attributes(attributes, fields, as_text)`: the values of a table of fields, each the first
  set attribute of its keys (both conventions), made text where it must be: one C call in place of
  some thirty dictionary reads and conversions a span.
- `headers_json(attributes, known, redactor)`: a span's request and response header JSON, as orjson
  would write the header dicts, from a table of what each header key becomes; `False` when a key is
  not in the table yet, `None` when C is missing or the span needs the dicts (`header_attributes`:
  so does a URL-valued header that may hold a secret, by the raw-text pre-scan).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import msgspec

from instrumentation import attributes as attr

from .attribute_values import text
from .redaction import Redactor

_speedups: Any
try:
    from . import _speedups  # type: ignore[attr-defined, no-redef]  # compiled: no stubs
except ImportError:  # no C compiler at install time
    _speedups = None

COMPILED = _speedups is not None


JSON_INVALID, JSON_PLAIN, JSON_MAY_HOLD_SECRET = -1, 0, 1

# Decoding into `Raw` checks the whole text against the JSON grammar (strictly: no NaN, no trailing
# commas, which DuckDB's own JSON reader would let through) without building Python objects.
_VALIDATOR = msgspec.json.Decoder(msgspec.Raw)


def scan_json(text: str, redactor: Redactor) -> int:
    """`JSON_INVALID`, or whether the JSON may hold a secret key (`JSON_MAY_HOLD_SECRET`) or not."""
    if _speedups is not None:
        verdict: int = _speedups.json_scan(text, *redactor.key_rule_utf8)
        return verdict
    try:
        _VALIDATOR.decode(text)
    except (msgspec.DecodeError, UnicodeEncodeError, RecursionError):  # lone surrogates; deep nesting
        return JSON_INVALID
    return JSON_MAY_HOLD_SECRET if redactor.may_hold_secret(text) else JSON_PLAIN


def text_holds_secret(text: str, redactor: Redactor) -> bool:
    if _speedups is not None:
        found: bool | None = _speedups.text_holds_secret(text, redactor.scan_keys_utf8)
        if found is not None:
            return found
    return redactor.may_hold_secret(text)


def query_json(query: str, redactor: Redactor) -> str | None:
    """The query_params column for a plain query with no secret, or None: then Python parses it."""
    if _speedups is None:
        return None
    result: str | None = _speedups.query_json(query, *redactor.key_rule_utf8)
    return result


def decode_attributes(
    encoded: list[bytes], wanted: frozenset[str], prefixes: tuple[bytes, ...]
) -> dict[str, Any] | None:
    """Encoded OTLP attributes as a dict, in C; None when C is missing or a value needs Python."""
    if _speedups is None:
        return None
    result: dict[str, Any] | None = _speedups.decode_attributes(encoded, wanted, prefixes)
    return result


def read_attributes(
    attributes: Mapping[str, Any], fields: tuple[tuple[str, ...], ...], as_text: tuple[bool, ...]
) -> Sequence[Any]:
    """For each field, `get(key1) or get(key2) or ...`, through `attribute_values.text` if `as_text`."""
    if _speedups is not None and type(attributes) is dict:
        values: Sequence[Any] = _speedups.read_attributes(attributes, fields, as_text, text)
        return values
    get = attributes.get
    out = []
    for keys, is_text in zip(fields, as_text, strict=True):
        value = None
        for key in keys:
            value = get(key)
            if value:
                break
        out.append(text(value) if is_text and value is not None and type(value) is not str else value)
    return out


_PREFIXES = (attr.REQUEST_HEADER_PREFIX.encode(), attr.RESPONSE_HEADER_PREFIX.encode())


def headers_json(
    attributes: dict[str, Any], known: dict[str, tuple[bytes, bool | None]], redactor: Redactor
) -> tuple[str | None, str | None] | bool | None:
    """The request and response header JSON; False for a header key not in `known`; None else."""
    if _speedups is None:
        return None
    result: tuple[str | None, str | None] | bool | None = _speedups.headers_json(
        attributes, known, *_PREFIXES, redactor.scan_keys_utf8
    )
    return result
