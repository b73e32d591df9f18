"""Memo tables of the decode path, bounded by bytes: a stranger chooses every key they hold.

Header names, content types and user agents come from any client of an instrumented app, at any
size. A table bounded only by its number of entries grows with the size of the keys: 150 requests
with distinct 1 MiB user agents grew a decoding process by ~900 MB. So each table here has a byte
budget over its keys and values, and a key longer than `max_key_chars` is never kept at all (it
is worked out again each time; real traffic's repeated values are short). When an entry would pass
the budget the table is emptied: simple, and real traffic refills it with what repeats.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any, Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")
_ENTRY_OVERHEAD = 100  # the dict slot and the objects' headers, roughly


def cost(key: Any, value: Any) -> int:
    """The bytes an entry holds, as counted against a budget (its key and value, shallowly)."""
    return sys.getsizeof(key) + sys.getsizeof(value) + _ENTRY_OVERHEAD


class BoundedCache(Generic[K, V]):
    """A dict-backed memo holding at most `max_bytes` (by `cost`); keys past `max_key_chars` are never kept."""

    __slots__ = ("bytes", "data", "max_bytes", "max_key_chars", "name")

    def __init__(self, name: str, *, max_bytes: int, max_key_chars: int = 512) -> None:
        self.name = name
        self.max_bytes = max_bytes
        self.max_key_chars = max_key_chars
        # Hot paths read `data` directly (`data.get(key)`): a plain dict lookup, no method call.
        self.data: dict[K, V] = {}
        self.bytes = 0
        _ALL.append(self)

    def get(self, key: K) -> V | None:
        return self.data.get(key)

    def __contains__(self, key: object) -> bool:
        return key in self.data

    def __len__(self) -> int:
        return len(self.data)

    def put(self, key: K, value: V) -> V:
        """Remember `value` for `key` when it fits the rules; returns `value` either way."""
        size = _chars(key)
        if size > self.max_key_chars or key in self.data:
            return value
        entry = cost(key, value)
        if self.bytes + entry > self.max_bytes:
            self.data.clear()
            self.bytes = 0
        self.data[key] = value
        self.bytes += entry
        return value

    def clear(self) -> None:
        self.data.clear()
        self.bytes = 0


def _chars(key: Any) -> int:
    if isinstance(key, str | bytes):
        return len(key)
    if isinstance(key, tuple):
        return sum(len(part) for part in key if isinstance(part, str | bytes))
    return 0


_ALL: list[BoundedCache[Any, Any]] = []


def caches() -> tuple[BoundedCache[Any, Any], ...]:
    """Every bounded cache of the process (for tests and status: each one's `bytes` and budget)."""
    return tuple(_ALL)


def configure(budgets: Mapping[str, int]) -> None:
    """Set the byte budget of the caches named in `budgets` (a cache over its new budget is emptied).

    The service calls it at start, in its own process and in each decoding process, from its
    `REQLOG_*_CACHE_BYTES` settings; raises `KeyError` for a name no cache has.
    """
    by_name = {cache.name: cache for cache in _ALL}
    for name, max_bytes in budgets.items():
        cache = by_name[name]
        cache.max_bytes = max_bytes
        if cache.bytes > max_bytes:
            cache.clear()


def snapshot() -> dict[str, dict[str, int]]:
    """Each cache's entries, bytes held and budget, by name (what `GET /api/metrics/service` shows)."""
    return {cache.name: {"entries": len(cache), "bytes": cache.bytes, "max_bytes": cache.max_bytes} for cache in _ALL}
