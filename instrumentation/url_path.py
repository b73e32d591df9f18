"""The `url.path` attribute: the path as the request line carried it, percent-encoded.

The JavaScript and Java SDKs send `url.path` percent-encoded (`/caf%C3%A9`), and the exporter
decodes it exactly once into the row's `endpoint` (`exporter.canonical`). An ASGI server hands the
app the decoded path (`scope["path"]`), so sending that as it is would let the exporter decode it a
second time (`/%2525` would become `/%` instead of Django's `/%25`). This module gives the exporter
a path that decodes to `scope["path"]` (ASGI) or to Django's `request.path` (WSGI), so every SDK
makes the same row.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote


def span_path(scope: Mapping[str, Any]) -> str:
    """`scope["path"]` in a spelling whose one percent-decoding gives `scope["path"]` back.

    The request line's own bytes (`raw_path`) when the server's decoded path is exactly their
    decoding, as with uvicorn and hypercorn (this keeps bytes that are not UTF-8 as `%FF`, where the
    decoded path has lost them to U+FFFD); otherwise, as behind a `root_path`, the decoded path with
    each `%` escaped. A path without `%` anywhere is itself.
    """
    path = scope.get("path") or "/"
    raw = scope.get("raw_path")
    if type(raw) is bytes and b"%" in raw:
        wire = raw.decode("latin-1")
        if unquote(wire) == path:
            return wire
    return path.replace("%", "%25") if "%" in path else path


def wsgi_span_path(path: str) -> str:
    """A PEP 3333 path (the server's decoding, its bytes held as latin-1) as `url.path`.

    One percent-decoding of the result gives what Django's `request.path` makes of the same
    bytes: UTF-8 text, and each byte that is not UTF-8 as `%XX` (`repercent_broken_unicode`).
    """
    if path.isascii():
        return path.replace("%", "%25") if "%" in path else path
    try:
        raw = path.encode("latin-1")
    except UnicodeEncodeError:  # not a PEP 3333 string: its text as it is
        return path.replace("%", "%25")
    text = raw.decode("utf-8", "surrogateescape").replace("%", "%25")
    return "".join(f"%{ord(c) - 0xDC00:02X}" if "\udc80" <= c <= "\udcff" else c for c in text)
