"""Cursor pagination in DRF's `CursorPagination` shape: `{"next", "previous", "results"}`.

Ordering is by id, newest first (ids grow with insertion, like DRF's default `-created`). The
cursor is opaque, as DRF's: base64 of `p=<id>` (the position) and `r=1` when walking backwards.
A cursor that does not decode is a 404 "Invalid cursor", as DRF answers. Pure functions, no I/O.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
from collections.abc import Mapping
from urllib.parse import parse_qs, urlencode

from yarl import URL

from query_api.errors import NotFound

PAGE_SIZE = 50
MAX_PAGE_SIZE = 500
INVALID_CURSOR = "Invalid cursor"


@dataclasses.dataclass(frozen=True, slots=True)
class Cursor:
    """A position: the id next to the page, and whether the page lies above it (backwards)."""

    position: int
    reverse: bool = False


def page_size(query: Mapping[str, str]) -> int:
    """`page_size` if it is a positive integer (capped at 500), else the default, as DRF does."""
    raw = query.get("page_size", "")
    try:
        size = int(raw)
    except ValueError:
        return PAGE_SIZE
    if size <= 0:
        return PAGE_SIZE
    return min(size, MAX_PAGE_SIZE)


def encode_cursor(cursor: Cursor) -> str:
    fields = {"p": str(cursor.position)}
    if cursor.reverse:
        fields["r"] = "1"
    return base64.b64encode(urlencode(fields).encode("ascii")).decode("ascii")


def decode_cursor(raw: str | None) -> Cursor | None:
    """The cursor in `raw`, `None` when there is none; `NotFound("Invalid cursor")` when garbled."""
    if not raw:
        return None
    try:
        fields = parse_qs(base64.b64decode(raw.encode("ascii"), validate=True).decode("ascii"), strict_parsing=True)
        position = int(fields["p"][0])
        reverse = bool(int(fields.get("r", ["0"])[0]))
    except (UnicodeError, binascii.Error, ValueError, KeyError, IndexError):
        raise NotFound(INVALID_CURSOR) from None
    if not -(2**63) <= position < 2**63:
        raise NotFound(INVALID_CURSOR)
    return Cursor(position, reverse)


def page_links(url: URL, cursor: Cursor | None, ids: list[int], *, has_more: bool) -> tuple[str | None, str | None]:
    """`(next, previous)` URLs for a page whose ids (newest first) are `ids`.

    `has_more` says the query found a row beyond the page in the walking direction.
    """
    if cursor is None:
        has_next, has_previous = has_more, False
    elif cursor.reverse:
        has_next, has_previous = True, has_more
    else:
        has_next, has_previous = has_more, True
    next_url = previous_url = None
    if ids:
        if has_next:
            next_url = _with_cursor(url, Cursor(ids[-1]))
        if has_previous:
            previous_url = _with_cursor(url, Cursor(ids[0], reverse=True))
    elif cursor is not None:
        # An empty page reached by a cursor: offer the way back (and forward, if walking backwards).
        if cursor.reverse:
            next_url = _with_cursor(url, Cursor(cursor.position + 1))
        else:
            previous_url = _with_cursor(url, Cursor(cursor.position - 1, reverse=True))
    return next_url, previous_url


def _with_cursor(url: URL, cursor: Cursor) -> str:
    return str(url.update_query(cursor=encode_cursor(cursor)))
