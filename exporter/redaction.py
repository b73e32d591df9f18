"""Redaction of secrets before anything is stored.

Header values are replaced by name; keys in bodies, responses and query strings are replaced when
their name contains a sensitive word, at any depth. Matching is case-insensitive and treats `-` as
`_`, so `X-Api-Key`, `api_key` and `API-KEY` are one key. Substring matching errs on the safe side:
`new_password` and `csrf_token` are redacted too.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Iterable
from typing import Any

REDACTED = "[REDACTED]"

DEFAULT_HEADERS: frozenset[str] = frozenset(
    {"authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key", "x-auth-token", "x-csrftoken"}
)
DEFAULT_KEYS: frozenset[str] = frozenset(
    {"password", "passwd", "secret", "token", "access_token", "refresh_token", "api_key", "apikey",
     "authorization", "card_number", "cvv", "ssn"}
)  # fmt: skip


def _normalise(name: str) -> str:
    return name.lower().replace("-", "_")


@dataclasses.dataclass(frozen=True, slots=True)
class Redactor:
    """Which header names and body keys are redacted (names compared lowercased, `-` as `_`)."""

    headers: frozenset[str] = DEFAULT_HEADERS
    keys: frozenset[str] = DEFAULT_KEYS
    _scan_keys: tuple[str, ...] = dataclasses.field(init=False, repr=False, compare=False)
    _scan_keys_utf8: tuple[bytes, ...] = dataclasses.field(init=False, repr=False, compare=False)

    @classmethod
    def build(
        cls,
        *,
        add_headers: Iterable[str] = (),
        keep_headers: Iterable[str] = (),
        add_keys: Iterable[str] = (),
        keep_keys: Iterable[str] = (),
    ) -> Redactor:
        """The defaults plus `add_*`, minus `keep_*` (a default turned off)."""
        headers = (DEFAULT_HEADERS | {h.lower() for h in add_headers}) - {h.lower() for h in keep_headers}
        keys = (DEFAULT_KEYS | {k.lower() for k in add_keys}) - {k.lower() for k in keep_keys}
        return cls(frozenset(_normalise(h) for h in headers), frozenset(_normalise(k) for k in keys))

    def __post_init__(self) -> None:
        # An empty name is dropped: as a substring of every key it would redact every value.
        object.__setattr__(self, "headers", frozenset(_normalise(h) for h in self.headers if h))
        object.__setattr__(self, "keys", frozenset(_normalise(k) for k in self.keys if k))
        # Keys containing another key add nothing to the pre-scan (`access_token` has `token`).
        minimal = tuple(sorted(k for k in self.keys if not any(o != k and o in k for o in self.keys)))
        object.__setattr__(self, "_scan_keys", minimal)
        object.__setattr__(self, "_scan_keys_utf8", tuple(k.encode() for k in minimal))

    @property
    def scan_keys_utf8(self) -> tuple[bytes, ...]:
        """The minimal secret keys, encoded, as the C scans take them (`speedups`)."""
        return self._scan_keys_utf8

    def header_is_secret(self, name: str) -> bool:
        return _normalise(name) in self.headers

    def may_hold_secret(self, text: str) -> bool:
        """False when no secret key can occur in `text`, so walking its parsed form is useless.

        A cheap C-level scan over the raw text; it errs towards True (a value that merely contains
        "token" says True, and the walk then decides per key).
        """
        # An escaped key (`"pass\u0077ord"` in JSON, `pass%77ord` in a form or query string) only
        # reads as a secret once decoded, so any escape sends the text to the walk.
        if "\\u" in text or "%" in text:
            return True
        # `str.__contains__` per key beats one regex alternation here (measured: 3.7 us vs 4.4 us
        # for a 1 KB body); the text is lowered once.
        normal = text.lower()
        if "-" in normal:
            normal = normal.replace("-", "_")
        return any(key in normal for key in self._scan_keys)

    def key_is_secret(self, key: str) -> bool:
        return _key_matches(self.keys, key)

    def redact_value(self, value: Any) -> Any:
        """Return `value` with every secret key's value replaced, at any depth (a new object)."""
        if isinstance(value, dict):
            return {
                k: REDACTED if isinstance(k, str) and _key_matches(self.keys, k) else self.redact_value(v)
                for k, v in value.items()
            }
        if isinstance(value, list):
            return [self.redact_value(v) for v in value]
        return value


@functools.lru_cache(maxsize=4096)
def _key_matches(keys: frozenset[str], key: str) -> bool:
    normal = _normalise(key)
    return any(secret in normal for secret in keys)
