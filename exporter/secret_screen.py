"""The secret pre-scan of a whole batch of texts at once, for batch flattening.

Before a JSON body or a query string is parsed and walked for secret keys, `Redactor.may_hold_secret`
screens its raw text: most texts hold no secret key, and they are stored as they came. Run text by
text that screen is ten substring searches, ~4.7 us for a 1 KB body, the largest single cost of
flattening a span. `SecretScreen` runs it once over every text of a batch as one Arrow array, through
a single RE2 pattern (`pyarrow.compute.match_substring_regex`): ~1.5 us a body (`bench/exporter.py`).

The pattern answers True wherever `may_hold_secret` does (tests/exporter/test_secret_screen.py
checks this property): each key letter matches its two ASCII cases, plus the two non-ASCII
characters Python lowercases to ASCII letters (KELVIN SIGN -> k, and the I WITH DOT ABOVE that
lowercases to i + a combining dot); `_` matches `-` too; any JSON `\\u` escape or `%` matches.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pyarrow as pa
import pyarrow.compute as pc

from .redaction import Redactor

# Below this many texts, building an array costs more than it saves.
_MIN_VECTORISED = 16
# Characters other than the two ASCII cases that `str.lower()` turns into the letter.
_FOLDS_TO = {"i": r"\x{130}", "k": r"\x{212A}"}


def screen_pattern(keys: Sequence[str]) -> str | None:
    """The RE2 pattern for normalised secret keys, or `None` when a key is not plain ASCII."""
    alternatives = [r"\\u", "%"]
    for key in keys:
        if not key.isascii() or not key:
            return None
        parts = []
        for char in key:
            if char == "_":
                parts.append("[_-]")
            elif char.isalpha():
                parts.append(f"[{char}{char.upper()}{_FOLDS_TO.get(char, '')}]")
            elif char.isalnum():
                parts.append(char)
            else:
                parts.append("\\" + char)  # RE2 reads a backslash before punctuation as the literal
        alternatives.append("".join(parts))
    return "|".join(alternatives)


class SecretScreen:
    """`may_hold_secret` for a batch: screened together up front, answered by lookup.

    A text that was not in the batch is screened on its own when asked about.
    """

    def __init__(self, redactor: Redactor, texts: Sequence[str]) -> None:
        self._texts = list(texts)  # kept alive, so that their ids stay theirs
        self._fallback: Callable[[str], bool] = redactor.may_hold_secret
        pattern = screen_pattern(redactor.scan_keys)
        flags = None
        if pattern is not None and len(self._texts) >= _MIN_VECTORISED:
            try:
                flags = pc.match_substring_regex(pa.array(self._texts, pa.string()), pattern).to_pylist()
            except (pa.ArrowException, UnicodeEncodeError):  # a lone surrogate: not UTF-8
                flags = None
        if flags is None:
            flags = [self._fallback(text) for text in self._texts]
        self._flags = {id(text): flag for text, flag in zip(self._texts, flags, strict=True)}

    def __call__(self, text: str) -> bool:
        flag = self._flags.get(id(text))
        return self._fallback(text) if flag is None else flag
