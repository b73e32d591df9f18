"""Query strings and form bodies (`a=1&b=2&b=3`) as the row stores them: a key given twice is a list.

Shared by the query_params column (`speedups.query_params_json`, whose C twin writes the plain
ones straight to JSON) and form bodies (`bodies`).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl


def _pairs(query: str) -> list[tuple[str, str]]:
    # Most query strings need no unquoting; parse_qsl is ~4x slower than a split for those.
    if "%" in query or "+" in query or ";" in query:
        return parse_qsl(query, keep_blank_values=True)
    pairs = []
    for part in query.split("&"):
        if part:
            key, _, value = part.partition("=")
            pairs.append((key, value))
    return pairs


def parse_query(query: str) -> dict[str, str | list[str]]:
    """Parse a query or form string; a key given twice becomes a list of its values."""
    out: dict[str, Any] = {}
    for key, value in _pairs(query):
        if key in out:
            previous = out[key]
            if isinstance(previous, list):
                previous.append(value)
            else:
                out[key] = [previous, value]
        else:
            out[key] = value
    return out
