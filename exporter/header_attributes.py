"""A span's `http.request.header.*` / `http.response.header.*` attributes -> the two header columns.

Names become their display form (`headers.canonical_name`), several values of one header are
joined (`headers.join_values`), credential headers get `[REDACTED]`, and a URL-valued header
(`Location`, `Referer`) has the secret parameters of its query redacted (`scrub.scrub_url`). The
usual span (every header one string, as the SDK records them) has its JSON written in C straight
from the attribute dict (`speedups.headers_json`), from a table of what each header key turns
into, learnt once per key; any other span goes through the header dicts (`collect_headers`), with
the same result.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from instrumentation import attributes as attr

from .attribute_values import strings
from .bounded_cache import cost
from .headers import canonical_name, join_values
from .redaction import REDACTED, Redactor
from .scrub import is_url_header, scrub_url
from .speedups import headers_json, text_holds_secret

_REQUEST_PREFIX_LEN = len(attr.REQUEST_HEADER_PREFIX)
_RESPONSE_PREFIX_LEN = len(attr.RESPONSE_HEADER_PREFIX)
# Arbitrary keys from OTLP must not grow the tables: each table holds at most `_TABLE_MAX_BYTES`
# (keys and values, counted as `bounded_cache.cost`; `REQLOG_HEADER_KEYS_CACHE_BYTES` in the service)
# and is emptied when an entry would pass it; a key longer than `KEY_MAX_CHARS` is never kept.
DEFAULT_TABLE_MAX_BYTES = 4 * 1024 * 1024
_TABLE_MAX_BYTES = DEFAULT_TABLE_MAX_BYTES
KEY_MAX_CHARS = 300
_TABLE_BYTES: dict[int, int] = {}  # id(table) -> bytes it holds


def _header_key(key: str) -> tuple[bool, str] | None:
    """Attribute key -> (is a request header, display name), or None when it is no header key."""
    if key.startswith(attr.REQUEST_HEADER_PREFIX):
        return True, canonical_name(key[_REQUEST_PREFIX_LEN:], request=True)
    if key.startswith(attr.RESPONSE_HEADER_PREFIX):
        return False, canonical_name(key[_RESPONSE_PREFIX_LEN:], request=False)
    return None


# Spans repeat the same few hundred keys, so each is worked out once (a plain dict, not
# lru_cache: this lookup runs for every attribute of every span).
_HEADER_KEYS: dict[str, tuple[bool, str] | None] = {}


def collect_headers(attributes: Mapping[str, Any], redactor: Redactor) -> tuple[dict[str, Any], dict[str, Any]]:
    """The request and response headers a span's attributes carry, redacted, in attribute order."""
    request: dict[str, Any] = {}
    response: dict[str, Any] = {}
    known = _HEADER_KEYS
    for key, value in attributes.items():
        header = known[key] if key in known else _remember(known, key, _header_key(key))
        if header is None:
            continue
        is_request, name = header
        target = request if is_request else response
        if redactor.header_is_secret(name):
            target[name] = REDACTED
            continue
        if type(value) is tuple and len(value) == 1 and type(value[0]) is str:
            joined: str | list[str] = value[0]  # the common case: one value, as the SDK stores it
        else:
            joined = join_values(name, strings(value))
        if is_url_header(name):
            joined = _scrub_urls(joined, redactor)
        target[name] = joined
    return request, response


def _scrub_urls(value: str | list[str], redactor: Redactor) -> str | list[str]:
    if isinstance(value, list):
        return [_scrub_urls(item, redactor) for item in value]  # type: ignore[misc]
    return scrub_url(value, redactor) if text_holds_secret(value, redactor) else value


def headers_json_columns(attributes: Mapping[str, Any], redactor: Redactor) -> tuple[str | None, str | None]:
    """`collect_headers` as the row's two JSON columns (None for a side without headers)."""
    if type(attributes) is dict:
        known = _fragments_for(redactor)
        columns = headers_json(attributes, known, redactor)
        if columns is False:  # header keys not seen before: learn them, then ask again
            for key in attributes:
                if key not in known:
                    _learn(known, key, redactor)
            columns = headers_json(attributes, known, redactor)
        if isinstance(columns, tuple):
            return columns
    request, response = collect_headers(attributes, redactor)
    return (
        orjson.dumps(request).decode() if request else None,
        orjson.dumps(response).decode() if response else None,
    )


# For `speedups.headers_json`, per set of redacted header names: header key -> (fragment,
# redacted), the fragment being the encoded display name and colon, or the whole redacted pair;
# `redacted` is None for a URL-valued header, whose value C checks for a possible secret.
# One bytes object per display name, so that C can tell two keys that share a name.
_FRAGMENTS: dict[frozenset[str], dict[str, tuple[bytes, bool | None]]] = {}
_NAME_FRAGMENTS: dict[tuple[str, bool], bytes] = {}


def _fragments_for(redactor: Redactor) -> dict[str, tuple[bytes, bool | None]]:
    known = _FRAGMENTS.get(redactor.headers)
    if known is None:
        known = _FRAGMENTS[redactor.headers] = {}
    return known


def _learn(known: dict[str, tuple[bytes, bool | None]], key: str, redactor: Redactor) -> None:
    header = _header_key(key)
    if header is None:
        return
    name = header[1]
    secret = redactor.header_is_secret(name)
    flag = None if not secret and is_url_header(name) else secret
    fragment = _NAME_FRAGMENTS.get((name, secret))
    if fragment is None:
        fragment = orjson.dumps(name) + (b':"' + REDACTED.encode() + b'"' if secret else b":")
        _remember(_NAME_FRAGMENTS, (name, secret), fragment)
    _remember(known, key, (fragment, flag))


def _remember(table: dict[Any, Any], key: Any, value: Any) -> Any:
    """`table[key] = value` within the table's byte budget (emptied first when the entry would pass
    it); a key past `KEY_MAX_CHARS` is not kept. Returns `value` either way."""
    size = len(key) if isinstance(key, str) else len(key[0])
    if size > KEY_MAX_CHARS or key in table:
        return value
    entry = cost(key, value)
    held = _TABLE_BYTES.get(id(table), 0)
    if held + entry > _TABLE_MAX_BYTES:
        table.clear()
        held = 0
    table[key] = value
    _TABLE_BYTES[id(table)] = held + entry
    return value


def _tables() -> list[dict[Any, Any]]:
    return [_HEADER_KEYS, _NAME_FRAGMENTS, *_FRAGMENTS.values()]


def configure_tables(max_bytes: int) -> None:
    """Set each header-key table's byte budget (a table over it is emptied)."""
    global _TABLE_MAX_BYTES
    _TABLE_MAX_BYTES = max_bytes
    for table in _tables():
        if _TABLE_BYTES.get(id(table), 0) > max_bytes:
            table.clear()
            _TABLE_BYTES[id(table)] = 0


def tables_snapshot() -> dict[str, int]:
    """The header-key tables together: entries, bytes held, and the budget of each table."""
    tables = _tables()
    return {
        "entries": sum(len(table) for table in tables),
        "bytes": sum(_TABLE_BYTES.get(id(table), 0) for table in tables),
        "max_bytes": _TABLE_MAX_BYTES,
    }
