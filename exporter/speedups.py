"""Fast paths for flattening's hottest steps: C (`_speedups.c`) when it was compiled, else Python.

`pip install` compiles `exporter/_speedups.c` when a C compiler is there (pyproject.toml marks the
extension optional). Flattening a realistic span (bench/spans.py: ~40 attributes, two 1 KB JSON
bodies) spends about half its time in these two steps in Python; in C they cost a tenth of that
(`bench/exporter.py`). The Python versions stay the reference, and tests check that both agree.

- `json_keys_hold_secret(text, redactor)`: whether a *valid* JSON body may hold a secret key, so
  that it must be parsed and walked (`Redactor.redact_value`). C reads only the object keys and
  skips string values; Python scans the raw text (`Redactor.may_hold_secret`), which errs towards
  True more often (a value mentioning "token"), never the other way.
- `text_holds_secret(text, redactor)`: `Redactor.may_hold_secret`, the raw-text pre-scan of query
  strings and forms, exactly; C answers for ASCII text and leaves other text to Python.
- `headers_json(attributes, known)`: a span's request and response header JSON, as orjson would
  write the header dicts, from a table of what each header key becomes; `False` when a key is not
  in the table yet, `None` when C is missing or the span needs the dicts (`header_attributes`).
"""

from __future__ import annotations

from typing import Any

from instrumentation import attributes as attr

from .redaction import Redactor

try:
    from . import _speedups
except ImportError:  # no C compiler at install time
    _speedups = None

COMPILED = _speedups is not None


def json_keys_hold_secret(text: str, redactor: Redactor) -> bool:
    if _speedups is None:
        return redactor.may_hold_secret(text)
    return bool(_speedups.json_keys_hold_secret(text, redactor.scan_keys_utf8))


def text_holds_secret(text: str, redactor: Redactor) -> bool:
    if _speedups is not None:
        found: bool | None = _speedups.text_holds_secret(text, redactor.scan_keys_utf8)
        if found is not None:
            return found
    return redactor.may_hold_secret(text)


_PREFIXES = (attr.REQUEST_HEADER_PREFIX.encode(), attr.RESPONSE_HEADER_PREFIX.encode())


def headers_json(
    attributes: dict[str, Any], known: dict[str, tuple[bytes, bool]]
) -> tuple[str | None, str | None] | bool | None:
    """The request and response header JSON; False for a header key not in `known`; None else."""
    if _speedups is None:
        return None
    result: tuple[str | None, str | None] | bool | None = _speedups.headers_json(attributes, known, *_PREFIXES)
    return result
