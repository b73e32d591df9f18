"""Secrets scrubbed out of text that cannot be parsed whole: cut-off JSON, JSON under a text content
type, cut-off forms, and URLs in header values (`Location: /welcome?token=...`).

Each function keeps the text as it came, except that the value of every secret key becomes
`[REDACTED]`: a string, a scalar, or a whole list or object (to the end of the text when the text
ends inside it). The callers run the raw-text pre-scan (`speedups.text_holds_secret`) first, so
text that names no secret never reaches these loops.
"""

from __future__ import annotations

import re
from urllib.parse import unquote_plus

import orjson

from .redaction import REDACTED, Redactor

# A string (its closing quote in group 2, absent when the text ends first) or a structural character.
_TOKEN = re.compile(r'"((?:[^"\\]|\\.)*)(")?|[{}\[\]:,]')
_SPACE = re.compile(r"[ \t\n\r]*")
_SCALAR = re.compile(r"[^,}\]\s]*")
_QUOTED_REDACTED = f'"{REDACTED}"'


def _json_key(raw: str) -> str:
    """A key as JSON text spells it (`pass\\u0077ord`) -> the key it means (`password`)."""
    if "\\" not in raw:
        return raw
    try:
        key = orjson.loads(f'"{raw}"')
    except orjson.JSONDecodeError:
        return raw
    return key if isinstance(key, str) else raw


def _value_end(text: str, start: int) -> int:
    """Where the JSON value starting at `start` ends: the end of the text if it is cut off."""
    if start >= len(text):
        return start
    first = text[start]
    if first == '"':
        match = _TOKEN.match(text, start)
        return match.end() if match is not None else len(text)
    if first in "{[":
        depth = 0
        position = start
        while (match := _TOKEN.search(text, position)) is not None:
            position = match.end()
            token = match.group()[0]
            if token in "{[":
                depth += 1
            elif token in "}]":
                depth -= 1
                if depth == 0:
                    return position
        return len(text)
    match = _SCALAR.match(text, start)
    return match.end() if match is not None else start


def scrub_json_text(text: str, redactor: Redactor) -> str:
    """`text` (JSON, possibly cut off or invalid) with the value of every secret key redacted.

    A key is a complete string followed by `:`; it is top-level when only the root object is open.
    On valid JSON this hides exactly what `Redactor.redact_value` hides, keeping the text's layout.
    """
    pieces: list[str] = []
    last = position = 0
    stack: list[str] = []
    while (match := _TOKEN.search(text, position)) is not None:
        position = match.end()
        first = match.group()[0]
        if first == '"':
            if match.group(2) is None:
                break  # a string the text ends inside: nothing follows it
            colon = _SPACE.match(text, position)
            after = colon.end() if colon is not None else position
            if after >= len(text) or text[after] != ":":
                continue
            top = len(stack) == 1 and stack[0] == "{"
            if not redactor.key_is_secret(_json_key(match.group(1)), top=top):
                continue
            start_match = _SPACE.match(text, after + 1)
            start = start_match.end() if start_match is not None else after + 1
            end = _value_end(text, start)
            if end > start:
                pieces += (text[last:start], _QUOTED_REDACTED)
                last = end
            position = max(end, after + 1)
        elif first in "{[":
            stack.append(first)
        elif first in "}]" and stack:
            stack.pop()
    pieces.append(text[last:])
    return "".join(pieces)


def scrub_form_text(text: str, redactor: Redactor) -> str:
    """A form (`a=1&password=x`), possibly cut off: the value of every secret key redacted."""
    pairs = text.split("&")
    for i, pair in enumerate(pairs):
        key, sep, _ = pair.partition("=")
        if sep and redactor.key_is_secret(unquote_plus(key), top=True):
            pairs[i] = f"{key}={REDACTED}"
    return "&".join(pairs)


# Headers whose value is a URL (or holds one: `Refresh: 0; url=...`), whose query may carry a token;
# in the `-` spelling of the display names `headers.canonical_name` gives.
URL_HEADERS = frozenset(("location", "content-location", "referer", "refresh"))
# A `key=value` pair of a query, a fragment (`#access_token=`) or path parameters (`;jsessionid=`).
_URL_PAIR = re.compile(r"([?&#;])([^=&#;?]*)=([^&#;?]*)")


def is_url_header(name: str) -> bool:
    """Whether a header's display name is one of `URL_HEADERS` (a cheap test: it runs per header)."""
    return name.lower() in URL_HEADERS


def scrub_url(value: str, redactor: Redactor) -> str:
    """A URL-valued header with the value of every secret query, fragment or path parameter redacted."""

    def replace(match: re.Match[str]) -> str:
        if redactor.key_is_secret(unquote_plus(match.group(2)).strip(), top=True):
            return f"{match.group(1)}{match.group(2)}={REDACTED}"
        return match.group(0)

    return _URL_PAIR.sub(replace, value)
