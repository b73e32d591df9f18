"""The `url.path` attribute: the path as the request line carried it, percent-encoded.

The JavaScript and Java SDKs send `url.path` percent-encoded (`/caf%C3%A9`), and the exporter
decodes it exactly once into the row's `endpoint` (`exporter.canonical`). An ASGI server hands the
app the decoded path (`scope["path"]`), so sending that as it is would let the exporter decode it a
second time (`/%2525` would become `/%` instead of Django's `/%25`). This module gives the exporter
a path that decodes to `scope["path"]`, so both SDKs make the same row.
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
