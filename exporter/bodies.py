"""Request and response bodies -> JSON text for the row, decoded by content type and redacted.

- JSON (`application/json`, `*+json`, `text/json`, `*/x-json`) -> the parsed value; a body that
  claims JSON but is not stays a string.
- `application/x-www-form-urlencoded` -> an object (a repeated key becomes a list); JSON sent
  under it is read as JSON.
- `multipart/*` -> the summary the instrumentation made (field names, file names and sizes).
- other text -> a string; when it looks like JSON (a JSON API answering `text/plain`) or a form
  (`a=1&b=2`, no whitespace), secret keys in it are scrubbed all the same. Binary content is
  never stored (the size is kept).
- a truncated body -> the captured prefix as a JSON string, so the column never holds invalid
  JSON; secrets inside that prefix are scrubbed (`scrub`) since it cannot be parsed.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from .bounded_cache import BoundedCache
from .query_strings import parse_query
from .redaction import Redactor
from .scrub import scrub_form_text, scrub_json_text
from .speedups import JSON_INVALID, JSON_PLAIN, scan_json, text_holds_secret


def _mime(content_type: str | None) -> str:
    if not content_type:
        return ""
    # A service sends a handful of content types: each is parsed once.
    mime = _MIMES.data.get(content_type)
    if mime is None:
        mime = _MIMES.put(content_type, content_type.split(";", 1)[0].strip().lower())
    return mime


# Bounded by bytes, and long values never kept: the header comes from clients.
_MIMES: BoundedCache[str, str] = BoundedCache("content types", max_bytes=512 * 1024, max_key_chars=256)


def _is_json(mime: str) -> bool:
    # `text/json` and `application/x-json` are old spellings still sent; JSON under them is JSON.
    return mime == "application/json" or mime.endswith(("+json", "/json", "/x-json"))


def decode_body(content: Any, content_type: str | None, *, truncated: bool, redactor: Redactor) -> str | None:
    """JSON text for a captured body, or `None` when nothing (or only binary data) was captured."""
    text = content if type(content) is str else _as_text(content)
    if not text:
        return None
    if content_type == "application/json" and not truncated:  # the usual body, in fewer calls
        verdict = scan_json(text, redactor)
        return text if verdict == JSON_PLAIN else _json_by_verdict(text, verdict, redactor)
    mime = _mime(content_type)
    if _is_json(mime) or (not mime and text[:1] in "{["):
        return _json_body(text, truncated=truncated, redactor=redactor)
    if mime == "application/x-www-form-urlencoded":
        if text.lstrip()[:1] in ("{", "["):
            # JSON posted with a form's content type (jQuery's default): as a form, the whole JSON
            # text would be one key, secrets and all. Cut off, it is scrubbed both ways.
            if truncated:
                return orjson.dumps(_scrubbed(_scrubbed(text, redactor, json=True), redactor, json=False)).decode()
            if scan_json(text, redactor) != JSON_INVALID:
                return _json_body(text, truncated=False, redactor=redactor)
        if truncated:
            # The last pair may be cut off; the prefix still parses, and every key is checked.
            return orjson.dumps(_scrubbed(text, redactor, json=False)).decode()
        form = parse_query(text)
        return orjson.dumps(redactor.redact_value(form) if text_holds_secret(text, redactor) else form).decode()
    if mime.startswith("multipart/"):
        try:
            return orjson.dumps(redactor.redact_value(orjson.loads(text))).decode()
        except orjson.JSONDecodeError:
            return orjson.dumps(text).decode()
    return orjson.dumps(_other_text(text, redactor)).decode()


def _as_text(content: Any) -> str | None:
    """The captured content as text; `None` when there is none or it is binary (only its size is kept)."""
    if content is None or isinstance(content, str):
        return content
    if isinstance(content, bytes | bytearray):
        try:
            return bytes(content).decode("utf-8")
        except UnicodeDecodeError:
            return None
    return str(content)


def _json_body(text: str, *, truncated: bool, redactor: Redactor) -> str:
    return _json_by_verdict(text, JSON_INVALID if truncated else scan_json(text, redactor), redactor)


def _json_by_verdict(text: str, verdict: int, redactor: Redactor) -> str:
    """A JSON body's column given `scan_json`'s verdict on it (`JSON_INVALID` for a cut-off one)."""
    if verdict == JSON_PLAIN:
        return text  # valid JSON with nothing to redact: stored as it came
    if verdict == JSON_INVALID:
        return _json_string(text, redactor)
    return _json_with_secrets(text, redactor)


def _json_with_secrets(content: str, redactor: Redactor) -> str:
    """Valid JSON that may hold a secret key: parsed, walked and written again."""
    try:
        value = orjson.loads(content)
    except orjson.JSONDecodeError:  # valid, but beyond what orjson reads (a number like 1e999)
        return _json_string(content, redactor)
    return orjson.dumps(redactor.redact_value(value)).decode()


def _json_string(content: str, redactor: Redactor) -> str:
    """Text that is not (or not whole) JSON, kept as a JSON string with secret values scrubbed."""
    return orjson.dumps(_scrubbed(content, redactor, json=True)).decode()


# A form has no raw whitespace (a space is `+`); prose and HTML nearly always do.
_WHITESPACE = re.compile(r"\s")


def _other_text(text: str, redactor: Redactor) -> str:
    """Text of another type: JSON sent as `text/plain` (or a form) still carries its secret keys."""
    if text.lstrip()[:1] in ("{", "["):
        return _scrubbed(text, redactor, json=True)
    if "=" in text and _WHITESPACE.search(text) is None:
        return _scrubbed(text, redactor, json=False)
    return text


def _scrubbed(text: str, redactor: Redactor, *, json: bool) -> str:
    """`text` with secret values hidden, read as JSON or as a form; the pre-scan spares most texts."""
    if not text_holds_secret(text, redactor):
        return text
    return scrub_json_text(text, redactor) if json else scrub_form_text(text, redactor)
