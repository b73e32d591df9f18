"""Bounded capture of one body, request or response, as it streams through the middleware.

Pure logic, no I/O: the middleware feeds each chunk the app receives or sends, then asks for the
span attributes. Chunks pass through untouched; only a prefix of `limit` bytes is kept, so a large
upload or an endless server-sent-event stream costs at most `limit` bytes of memory. What is kept
depends on the content type, decided once from the headers:

- an allowlisted, unencoded type -> the text of the prefix, flagged truncated past `limit`;
- `multipart/form-data` -> a JSON summary (field names, file names and sizes, never file contents);
- anything else (binary, gzip-encoded, no content type) -> size and content type only.

A body the app never finished reading (an early 401, 403, 404 or 413) is still kept: the adapter
asks `unread_wanted()` how many more bytes are worth reading once the app has answered, feeds them
here, and the size reported is the one the client declared (`Content-Length`) when the rest was
never read. Whether reading it is allowed at all is `may_read_unread()`: never when the client waits
for `100 Continue`, since reading would invite the body the app refused.
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
    """Counts every byte of a body and keeps what its mode allows, within `limit` bytes.

    In `TEXT` mode the kept prefix is always the first `min(size, limit)` bytes, so only the size
    is counted; the prefix is one `bytes` while the body came in one chunk (the common case, never
    joined), a list of chunks after that.
    """

    __slots__ = ("limit", "mode", "content_type", "size", "declared", "complete", "_kept", "_multipart")

    def __init__(self, mode: int, content_type: str | None, limit: int, declared: int | None = None) -> None:
        self.limit = limit
        self.content_type = content_type
        self.size = 0
        # The length the sender declared (Content-Length), and whether the last byte has been seen
        # (at once for a declared empty body).
        self.declared = declared
        self.complete = declared == 0
        self._kept: bytes | list[bytes] | None = None
        self._multipart: MultipartSummary | None = None
        if mode == MULTIPART:
            boundary = boundary_of(content_type or "")
            if boundary is None:
                mode = SIZE
            else:
                self._multipart = MultipartSummary(boundary, max_bytes=limit)
        self.mode = mode

    def feed(self, data: bytes) -> None:
        seen = self.size
        self.size = seen + len(data)
        if self.declared is not None and self.size >= self.declared:
            self.complete = True  # the declared length is met: that was the last byte
        if self.mode == TEXT:
            room = self.limit - seen
            if room > 0 and data:
                part = data if len(data) <= room else data[:room]
                kept = self._kept
                if kept is None:
                    self._kept = part
                elif isinstance(kept, bytes):
                    self._kept = [kept, part]
                else:
                    kept.append(part)
        elif self._multipart is not None and data:
            self._multipart.feed(data)

    def end(self) -> None:
        """The sender said the body is over (its last message, an empty read); `feed` ends a body by
        itself once its declared length is met."""
        self.complete = True

    def unread_wanted(self) -> int:
        """Bytes still worth reading of a body the app left unread: what fits the kept prefix.

        0 once the body is complete, or when nothing past the size would be kept (`SIZE` mode: the
        declared length already tells the size).
        """
        if self.complete:
            return 0
        if self.mode == TEXT or (self._multipart is not None and not self._multipart.truncated):
            return max(self.limit - self.size, 0)
        return 0

    @property
    def total_size(self) -> int:
        """The body's real size: the bytes seen, or the declared length when the rest went unread."""
        if not self.complete and self.declared is not None and self.declared > self.size:
            return self.declared
        return self.size

    def write_attributes(self, out: dict[str, object], keys: tuple[str, str, str, str]) -> None:
        """Add this body's span attributes to `out`; an empty body with no content type adds none.

        `keys` names the (content, content type, size, truncated) attributes.
        """
        size = self.total_size
        content_type = self.content_type
        if size == 0 and not content_type:
            return
        content_key, type_key, size_key, truncated_key = keys
        out[size_key] = size
        if self.mode == TEXT:
            kept = self._kept
            cut = size > self.limit or size > self.size  # past the limit, or left unread
            if kept is not None:
                raw = kept if isinstance(kept, bytes) else b"".join(kept)
                try:
                    out[content_key] = raw.decode()
                except UnicodeDecodeError:
                    out[content_key] = _decode_prefix(raw, cut=cut)
            if content_type:
                out[type_key] = content_type
            if cut:
                out[truncated_key] = True
            return
        if self._multipart is not None:
            out[content_key] = orjson.dumps(self._multipart.result()).decode()
            out[type_key] = MULTIPART_CONTENT_TYPE
            if self._multipart.truncated or size > self.size:
                out[truncated_key] = True
        elif content_type:
            out[type_key] = content_type


def may_read_unread(expect: str | None) -> bool:
    """Whether a body the app left unread may be read after its answer (not under `100-continue`)."""
    return expect is None or expect.strip().lower() != "100-continue"


def _decode_prefix(raw: bytes, *, cut: bool) -> str:
    """UTF-8 text of kept bytes that are not valid UTF-8 as they are: a character split by the cut
    is dropped rather than mangled; anything else invalid becomes U+FFFD."""
    if cut:
        for drop in (1, 2, 3):
            try:
                return raw[:-drop].decode("utf-8")
            except UnicodeDecodeError:
                continue
    return raw.decode("utf-8", "replace")
