"""Attribute values as the row's columns need them: text, integers, status codes.

Span attributes are never trusted (any type, any size, from any SDK over OTLP); these turn whatever
arrives into the column's type or `None`, and never raise.
"""

from __future__ import annotations

from typing import Any


def text(value: Any) -> str | None:
    """Any attribute value as text: `None` stays `None`, sequences are joined, bytes decoded."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", "replace")
    if isinstance(value, list | tuple):
        return ", ".join(s for s in (text(v) for v in value) if s is not None)
    return str(value)


def strings(value: Any) -> list[str]:
    """Each value of a sequence (or the one value) as text, leaving out nulls."""
    if isinstance(value, list | tuple):
        return [s for s in (text(v) for v in value) if s is not None]
    one = text(value)
    return [] if one is None else [one]


def first_str(value: Any) -> str | None:
    """A header's value from a header dict: the string, or the first of a list of them."""
    if isinstance(value, list):
        return value[0] if value else None
    return value if isinstance(value, str) else None


def status(value: Any) -> int | None:
    code = integer(value)
    return code if code is not None and 0 <= code <= 999 else None


def integer(value: Any) -> int | None:
    """An integer that fits a BIGINT column, or `None`."""
    number: int | None = None
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        number = value
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    elif isinstance(value, str):
        try:
            number = int(value.strip())
        except ValueError:
            return None
    if number is None or not -(2**63) <= number < 2**63:
        return None
    return number
