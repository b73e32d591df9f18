"""A streaming summary of a `multipart/form-data` body: field names, file names and sizes.

The summary is what the row shows for an upload: an object like a parsed form, where a text field
maps to its value and a file field to `{"filename", "content_type", "size"}`; a repeated name
becomes a list. File contents are never kept, only counted, so memory stays bounded whatever the
upload size: the parser holds at most one header block and a boundary's length of lookahead.
Text field values share the `max_bytes` budget; past it they are cut and the summary is flagged.
"""

from __future__ import annotations

from typing import Any

_MAX_HEADER_BLOCK = 16 * 1024


def boundary_of(content_type: str) -> bytes | None:
    """The `boundary` parameter of a multipart content type, or `None`."""
    for param in content_type.split(";")[1:]:
        key, sep, value = param.partition("=")
        if sep and key.strip().lower() == "boundary":
            value = value.strip().strip('"')
            return value.encode("latin-1", "replace") if value else None
    return None


class MultipartSummary:
    """Feed body chunks in order; `result()` gives the summary and whether it is incomplete."""

    __slots__ = ("_delimiter", "_buffer", "_state", "_part", "_fields", "_budget", "truncated")

    def __init__(self, boundary: bytes, *, max_bytes: int) -> None:
        self._delimiter = b"\r\n--" + boundary
        # The first delimiter may open the body without the leading CRLF.
        self._buffer = b"\r\n"
        self._state = "preamble"
        self._part: dict[str, Any] | None = None
        self._fields: list[tuple[str, Any]] = []
        self._budget = max_bytes
        self.truncated = False

    def feed(self, chunk: bytes) -> None:
        if self._state == "done" or not chunk:
            return
        self._buffer += chunk
        while self._step():
            pass

    def result(self) -> dict[str, Any]:
        """Fields in arrival order; a part cut off by the end of the body is still listed."""
        fields = list(self._fields)
        if self._part is not None and self._state == "content":
            # The body ended inside a part: the lookahead held back for a delimiter was content.
            part = dict(self._part, size=self._part["size"] + len(self._buffer))
            fields.append(self._finish(part))
            self.truncated = True
        summary: dict[str, Any] = {}
        for name, value in fields:
            if name in summary:
                previous = summary[name]
                summary[name] = [*previous, value] if isinstance(previous, list) else [previous, value]
            else:
                summary[name] = value
        return summary

    def _step(self) -> bool:
        """Advance one state; `False` when more input is needed."""
        buffer = self._buffer
        if self._state == "preamble":
            index = buffer.find(self._delimiter)
            if index < 0:
                self._buffer = buffer[-len(self._delimiter) :]
                return False
            self._buffer = buffer[index + len(self._delimiter) :]
            self._state = "after_delimiter"
            return True
        if self._state == "after_delimiter":
            if len(buffer) < 2:
                return False
            if buffer[:2] == b"--":
                self._state = "done"
                self._buffer = b""
                return False
            self._buffer = buffer[2:] if buffer[:2] == b"\r\n" else buffer
            self._state = "headers"
            return True
        if self._state == "headers":
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(buffer) > _MAX_HEADER_BLOCK:
                    self.truncated = True
                    self._state = "done"
                return False
            self._part = _parse_part_headers(buffer[:end])
            self._buffer = buffer[end + 4 :]
            self._state = "content"
            return True
        if self._state == "content":
            part = self._part
            assert part is not None
            index = buffer.find(self._delimiter)
            if index < 0:
                # Keep what could be the start of a delimiter split across chunks.
                keep = len(self._delimiter) - 1
                if len(buffer) > keep:
                    self._consume(part, buffer, len(buffer) - keep)
                    self._buffer = buffer[-keep:]
                return False
            self._consume(part, buffer, index)
            self._fields.append(self._finish(part))
            self._part = None
            self._buffer = buffer[index + len(self._delimiter) :]
            self._state = "after_delimiter"
            return True
        return False

    def _consume(self, part: dict[str, Any], buffer: bytes, end: int) -> None:
        """Count `buffer[:end]` as content; only text fields copy it (within the budget)."""
        part["size"] += end
        if part["filename"] is None:
            taken = min(end, self._budget)
            if taken < end:
                self.truncated = True
            self._budget -= taken
            part["value"] += buffer[:taken]

    @staticmethod
    def _finish(part: dict[str, Any]) -> tuple[str, Any]:
        if part["filename"] is not None:
            return part["name"], {
                "filename": part["filename"],
                "content_type": part["content_type"],
                "size": part["size"],
            }
        return part["name"], bytes(part["value"]).decode("utf-8", "replace")


def _parse_part_headers(block: bytes) -> dict[str, Any]:
    name = ""
    filename: str | None = None
    content_type: str | None = None
    for line in block.decode("utf-8", "replace").split("\r\n"):
        key, _, value = line.partition(":")
        key = key.strip().lower()
        if key == "content-disposition":
            for param in value.split(";")[1:]:
                pkey, sep, pvalue = param.partition("=")
                pkey = pkey.strip().lower()
                pvalue = pvalue.strip()
                if len(pvalue) >= 2 and pvalue[0] == pvalue[-1] == '"':
                    pvalue = pvalue[1:-1].replace('\\"', '"')
                if sep and pkey == "name":
                    name = pvalue
                elif sep and pkey == "filename":
                    filename = pvalue
        elif key == "content-type":
            content_type = value.strip()
    return {"name": name, "filename": filename, "content_type": content_type, "size": 0, "value": bytearray()}
