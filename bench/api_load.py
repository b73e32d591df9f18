"""The load generator of `bench/api.py`, in its own process (`python -m bench.api _load ...`)."""

from __future__ import annotations

import asyncio
import json
import random
import subprocess
import sys
import time

from bench.common import percentile


async def generate_load(
    port: int, token: str, low: int, high: int, requests: int, connections: int
) -> dict[str, float]:
    """`requests` GETs of random ids over `connections` keep-alive connections; rate and latency.

    A bare HTTP/1.1 client on asyncio streams rather than aiohttp's: the generator shares the two
    cores with the server it measures, and at ~40 us a request instead of ~150 it leaves the server
    what it would have against a separate load machine (wrk does the same in C).
    """
    auth = f"Authorization: Token {token}\r\n" if token else ""
    rng = random.Random(7)
    ids = [rng.randint(low, high) for _ in range(requests)]
    latencies: list[float] = []
    failures = 0

    async def worker(share: list[int]) -> None:
        nonlocal failures
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            for request_id in share:
                begin = time.perf_counter()
                writer.write(
                    f"GET /api/metrics/request_logs/{request_id} HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}\r\n".encode()
                )
                head = await reader.readuntil(b"\r\n\r\n")
                failures += not head.startswith(b"HTTP/1.1 200 ")
                length = int(head.lower().split(b"content-length:", 1)[1].split(b"\r\n", 1)[0])
                await reader.readexactly(length)
                latencies.append(time.perf_counter() - begin)
        finally:
            writer.close()
            await writer.wait_closed()

    warm = ids[: min(200, len(ids))]
    await asyncio.gather(*(worker(warm[i::connections]) for i in range(connections)))
    latencies.clear()
    begin = time.perf_counter()
    await asyncio.gather(*(worker(ids[i::connections]) for i in range(connections)))
    elapsed = time.perf_counter() - begin
    return {
        "rate": requests / elapsed,
        "p50_ms": percentile(latencies, 0.5) * 1e3,
        "p99_ms": percentile(latencies, 0.99) * 1e3,
        "failures": failures,
    }


def load(port: int, token: str, low: int, high: int, requests: int, connections: int) -> dict[str, float]:
    args = [str(port), token or "-", str(low), str(high), str(requests), str(connections)]
    done = subprocess.run([sys.executable, "-m", "bench.api", "_load", *args], capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(done.stderr)
    return json.loads(done.stdout)
