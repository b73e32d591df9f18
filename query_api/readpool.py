"""A small thread pool for blocking store reads, sized to the store's reader threads.

DuckDB releases the GIL while it works, so a few threads overlap lookups; each thread keeps its own
cursor (`RequestLogStore.cursor`). A dedicated pool (rather than `asyncio.to_thread`'s shared
default executor) keeps reads from queueing behind unrelated blocking work and makes the number
of concurrent DuckDB readers a setting, which the benchmark uses as the storage ceiling's thread count.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")


class ReadPool:
    """Run callables on `threads` worker threads; `close()` waits for running reads to finish."""

    def __init__(self, threads: int) -> None:
        self.threads = threads
        self._executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="reqlog-read")

    async def run(self, fn: Callable[..., T], *args: object) -> T:
        """`fn(*args)` on a reader thread; its exception propagates."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)
