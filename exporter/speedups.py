"""Flattening's hottest steps: C (`_speedups*.c`) when it was compiled, and its Python reference.

`pip install` compiles the C extension when a C compiler is there (pyproject.toml marks it
optional); without it every step runs its Python reference, with the same result. This module is
the one place that calls C: each step below is a facade over its two twins, and each pair is run
on the same inputs by `tests/exporter/test_speedups.py` (Hypothesis properties) and, for the secret
rule, on one table of vectors by `tests/exporter/test_secret_rule.py`. Flattening a realistic span
(bench/spans.py: ~40 attributes, two 1 KB JSON bodies) takes ~34 us of CPU with the Python
references and ~12 us with C (`bench/exporter.py`).

The secret rule exists once, in `Redactor` (redaction.py): the key list's words, whole names and
top-level names, matched on normalised names. C is handed the same rule as bytes
(`Redactor.key_rule_utf8`, `Redactor.scan_keys_utf8`) and compiles it once (`_speedups_secrets.c`).

| facade               | C (`_speedups.*`)   | Python reference                                     |
|----------------------|---------------------|------------------------------------------------------|
| `scan_json`          | `json_scan`         | `python_scan_json` (msgspec, `Redactor.may_hold_secret`) |
| `text_holds_secret`  | `text_holds_secret` | `Redactor.may_hold_secret`                           |
| `query_params_json`  | `query_json`        | `python_query_params_json`                           |
| `read_attributes`    | `read_attributes`   | `python_read_attributes`                             |
| `over_limit`         | `over_limit`        | `python_over_limit`                                  |
| `decode_attributes`  | `decode_attributes` | `otlp_wire.AttributeDecoder` (a protobuf decoder)    |
| `headers_json`       | `headers_json`      | `header_attributes.collect_headers`                  |

The last two C twins take the usual spans only and answer `None` for the others, which their
Python reference (a module of its own) then takes: their facades are `AttributeDecoder.decode` and
`header_attributes.headers_json_columns`. Where C and Python may differ, only C is stricter:
`json_scan` judges key by key, the reference scans the raw text, which says "may hold a secret"
more often (a value mentioning "token"), never less; both send such a body to the redaction walk.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import msgspec
import orjson

from instrumentation import attributes as attr

from .attribute_values import text
from .query_strings import parse_query
from .redaction import Redactor

_speedups: Any
try:
    from . import _speedups  # type: ignore[attr-defined, no-redef]  # compiled: no stubs
except ImportError:  # no C compiler at install time
    _speedups = None

COMPILED = _speedups is not None

# -- scan_json: is a body strict JSON, and may a key of it be secret? --------------------------

JSON_INVALID, JSON_PLAIN, JSON_MAY_HOLD_SECRET = -1, 0, 1

# Decoding into `Raw` checks the whole text against the JSON grammar (strictly: no NaN, no trailing
# commas, which DuckDB's own JSON reader would let through) without building Python objects.
_VALIDATOR = msgspec.json.Decoder(msgspec.Raw)


def scan_json(text: str, redactor: Redactor) -> int:
    """`JSON_INVALID`, or whether the JSON may hold a secret key (`JSON_MAY_HOLD_SECRET`) or not."""
    if _speedups is not None:
        verdict: int = _speedups.json_scan(text, *redactor.key_rule_utf8)
        return verdict
    return python_scan_json(text, redactor)


def python_scan_json(text: str, redactor: Redactor) -> int:
    try:
        _VALIDATOR.decode(text)
    except (msgspec.DecodeError, UnicodeEncodeError, RecursionError):  # lone surrogates; deep nesting
        return JSON_INVALID
    return JSON_MAY_HOLD_SECRET if redactor.may_hold_secret(text) else JSON_PLAIN


# -- text_holds_secret: the raw-text pre-scan of queries, forms, text bodies and URL headers ------


def text_holds_secret(text: str, redactor: Redactor) -> bool:
    """`Redactor.may_hold_secret(text)`; C answers for ASCII text and leaves other text to Python."""
    if _speedups is not None:
        found: bool | None = _speedups.text_holds_secret(text, redactor.scan_keys_utf8)
        if found is not None:
            return found
    return redactor.may_hold_secret(text)


# -- query_params_json: the query_params column ---------------------------------------------------


def query_params_json(query: str | None, redactor: Redactor) -> str:
    """The query_params column: the query string's parameters as a JSON object, secrets redacted.

    C writes a plain query (ASCII, no escapes or `;`, no key that may be secret) straight to JSON.
    """
    if not query:
        return "{}"
    if _speedups is not None:
        plain: str | None = _speedups.query_json(query, *redactor.key_rule_utf8)
        if plain is not None:
            return plain
    return python_query_params_json(query, redactor)


def python_query_params_json(query: str | None, redactor: Redactor) -> str:
    if not query:
        return "{}"
    params = parse_query(query)
    return orjson.dumps(redactor.redact_value(params) if text_holds_secret(query, redactor) else params).decode()


# -- read_attributes: a row's plain fields ----------------------------------------------------------


def read_attributes(
    attributes: Mapping[str, Any], fields: tuple[tuple[str, ...], ...], as_text: tuple[bool, ...]
) -> Sequence[Any]:
    """For each field, `get(key1) or get(key2) or ...`, through `attribute_values.text` if `as_text`.

    One C call in place of some thirty dictionary reads and conversions a span.
    """
    if _speedups is not None and type(attributes) is dict:
        values: Sequence[Any] = _speedups.read_attributes(attributes, fields, as_text, text)
        return values
    return python_read_attributes(attributes, fields, as_text)


def python_read_attributes(
    attributes: Mapping[str, Any], fields: tuple[tuple[str, ...], ...], as_text: tuple[bool, ...]
) -> Sequence[Any]:
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


# -- over_limit: whether a row has a column the caps cut (`limits.cap_values`) --------------------


def over_limit(
    values: tuple[Any, ...], text_at: tuple[int, ...], text_limit: int, json_at: tuple[int, ...], json_limit: int
) -> bool:
    """Whether a str at one of `text_at` is longer than `text_limit`, or one at `json_at` than `json_limit`."""
    if _speedups is not None:
        found: bool = _speedups.over_limit(values, text_at, text_limit, json_at, json_limit)
        return found
    return python_over_limit(values, text_at, text_limit, json_at, json_limit)


def python_over_limit(
    values: tuple[Any, ...], text_at: tuple[int, ...], text_limit: int, json_at: tuple[int, ...], json_limit: int
) -> bool:
    return any(type(values[i]) is str and len(values[i]) > text_limit for i in text_at) or any(
        type(values[i]) is str and len(values[i]) > json_limit for i in json_at
    )


# -- the usual spans only: None sends the span to the Python reference -------------------------------


def decode_attributes(
    encoded: list[bytes], wanted: frozenset[str], prefixes: tuple[bytes, ...]
) -> dict[str, Any] | None:
    """Encoded OTLP attributes as a dict when every value is of a common kind (a string, an array of
    one string, a non-negative integer, a bool, a double); None when C is missing or a value needs
    `otlp_wire.AttributeDecoder`, the reference."""
    if _speedups is None:
        return None
    result: dict[str, Any] | None = _speedups.decode_attributes(encoded, wanted, prefixes)
    return result


_PREFIXES = (attr.REQUEST_HEADER_PREFIX.encode(), attr.RESPONSE_HEADER_PREFIX.encode())


def headers_json(
    attributes: dict[str, Any], known: dict[str, tuple[bytes, bool | None]], redactor: Redactor
) -> tuple[str | None, str | None] | bool | None:
    """A span's request and response header JSON, as orjson writes `collect_headers`' dicts, from a
    table of what each header key becomes; False when a key is not in `known` yet; None when C is
    missing or the span needs the dicts (a header with several values, a URL-valued header that may
    hold a secret)."""
    if _speedups is None:
        return None
    result: tuple[str | None, str | None] | bool | None = _speedups.headers_json(
        attributes, known, *_PREFIXES, redactor.scan_keys_utf8
    )
    return result
