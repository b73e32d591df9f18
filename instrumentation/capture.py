"""Bounded capture of one body, request or response, as it streams through the middleware.

Pure logic, no I/O: the middleware feeds each chunk the app receives or sends, then asks for the
span attributes. Chunks pass through untouched; only a prefix of `limit` bytes is kept, so a large
upload or an endless server-sent-event stream costs at most `limit` bytes of memory. What is kept
depends on the content type, decided once from the headers:

- an allowlisted, unencoded type -> the text of the prefix, flagged truncated past `limit`;
- `multipart/form-data` -> a JSON summary (field names, file names and sizes, never file contents);
- anything else (binary, gzip-encoded, no content type) -> size and content type only.
"""

from __future__ import annotations

from collections.abc import Callable

import orjson

from .multipart import MultipartSummary, boundary_of

TEXT, SIZE, MULTIPART = 0, 1, 2
MULTIPART_CONTENT_TYPE = "multipart/form-data"


def choose_mode(
    content_type: str | None,
    content_encoding: str | None,
    *,
    allowed: Callable[[str], bool],
    summarize_multipart: bool,
) -> int:
    """How a body with these headers is captured: `TEXT`, `MULTIPART` or `SIZE`."""
    if not content_type:
        return SIZE
    if content_encoding and content_encoding.strip().lower() != "identity":
        return SIZE  # compressed bytes are not text, whatever the type says
    mime = content_type.partition(";")[0].strip().lower()
    if summarize_multipart and mime == MULTIPART_CONTENT_TYPE:
        return MULTIPART
    return TEXT if allowed(mime) else SIZE


class BodyCapture:
    """Counts every byte of a body and keeps what its mode allows, within `limit` bytes."""

    __slots__ = ("limit", "mode", "content_type", "size", "_first", "_chunks", "_kept", "_multipart")

    def __init__(self, mode: int, content_type: str | None, limit: int) -> None:
        self.limit = limit
        self.content_type = content_type
        self.size = 0
        self._first: bytes | None = None  # one-chunk bodies (the common case) are never joined
        self._chunks: list[bytes] | None = None
        self._kept = 0
        self._multipart: MultipartSummary | None = None
        if mode == MULTIPART:
            boundary = boundary_of(content_type or "")
            if boundary is None:
                mode = SIZE
            else:
                self._multipart = MultipartSummary(boundary, max_bytes=limit)
        self.mode = mode

    def feed(self, data: bytes) -> None:
        if not data:
            return
        self.size += len(data)
        if self.mode == TEXT:
            room = self.limit - self._kept
            if room <= 0:
                return
            if len(data) > room:
                data = data[:room]
            self._kept += len(data)
            if self._first is None:
                self._first = data
            elif self._chunks is None:
                self._chunks = [self._first, data]
            else:
                self._chunks.append(data)
        elif self._multipart is not None:
            self._multipart.feed(data)

    @property
    def truncated(self) -> bool:
        if self.mode == TEXT:
            return self.size > self._kept
        if self._multipart is not None:
            return self._multipart.truncated
        return False

    def write_attributes(self, out: dict[str, object], keys: tuple[str, str, str, str]) -> None:
        """Add this body's span attributes to `out`; an empty body with no content type adds none.

        `keys` names the (content, content type, size, truncated) attributes.
        """
        if self.size == 0 and not self.content_type:
            return
        content_key, type_key, size_key, truncated_key = keys
        out[size_key] = self.size
        if self.mode == TEXT:
            if self._first is not None:
                raw = self._first if self._chunks is None else b"".join(self._chunks)
                out[content_key] = _decode_prefix(raw, cut=self.size > self._kept)
            if self.content_type:
                out[type_key] = self.content_type
            if self.size > self._kept:
                out[truncated_key] = True
            return
        if self._multipart is not None:
            out[content_key] = orjson.dumps(self._multipart.result()).decode()
            out[type_key] = MULTIPART_CONTENT_TYPE
            if self._multipart.truncated:
                out[truncated_key] = True
        elif self.content_type:
            out[type_key] = self.content_type


def _decode_prefix(raw: bytes, *, cut: bool) -> str:
    """UTF-8 text of the kept bytes; a character split by the cut is dropped rather than mangled."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        if cut:
            for drop in (1, 2, 3):
                try:
                    return raw[:-drop].decode("utf-8")
                except UnicodeDecodeError:
                    continue
        return raw.decode("utf-8", "replace")
