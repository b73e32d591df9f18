"""Real reqlog processes on a lake, and OTLP traffic routed to writers by trace id.

`route` follows the OpenTelemetry Collector's `loadbalancing` exporter with `routing_key: traceID`:
a consistent hash ring of the endpoints (100 positions each, CRC-32 of endpoint name and position
number, modulo 36000), each trace sent to the endpoint at or after its trace id's CRC-32, so every
span of a trace, and every retry of it, reaches the same writer while the set of writers holds.
"""

from __future__ import annotations

import bisect
import http.client
import signal
import subprocess
import sys
import time
import zlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import orjson

from tests.hermetic import clean_environ

from .postgres import free_port

START_TIMEOUT = 60.0
_MAX_POSITIONS = 36000
_POSITIONS_PER_ENDPOINT = 100


class HashRing:
    def __init__(self, endpoints: Sequence[str]) -> None:
        points = []
        for endpoint in endpoints:
            for position in range(_POSITIONS_PER_ENDPOINT):
                crc = zlib.crc32(endpoint.encode() + bytes([position]))
                points.append((crc % _MAX_POSITIONS, endpoint))
        points.sort()
        self._positions = [p for p, _ in points]
        self._endpoints = [e for _, e in points]

    def endpoint(self, trace_id: bytes) -> str:
        at = bisect.bisect_left(self._positions, zlib.crc32(trace_id) % _MAX_POSITIONS)
        return self._endpoints[at % len(self._endpoints)]


class Node:
    """`reqlog serve --backend ducklake --role ROLE` as a child process on a free loopback port."""

    def __init__(self, role: str, env: Mapping[str, str], log: Path, port: int | None = None) -> None:
        self.role, self.env, self.log_path = role, dict(env), log
        self.port = port or free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> Node:
        self.starts += 1
        with self.log_path.open("a") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "query_api.cli", "serve", "--backend", "ducklake", "--role", self.role]
                + ["--port", str(self.port)],
                stdout=log,
                stderr=log,
                env=clean_environ(self.env),
            )
        return self

    def wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while self.request("GET", "/api/openapi.json")[0] != 200:
            assert self.process is not None and self.process.poll() is None, self.log()
            assert time.monotonic() < deadline, f"{self.role} node did not start: {self.log()[-3000:]}"
            time.sleep(0.1)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def request(
        self, method: str, path: str, body: bytes | None = None, headers: Mapping[str, str] | None = None
    ) -> tuple[int, bytes]:
        """One HTTP exchange; status 0 when the connection failed (the node is down)."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            connection.request(method, path, body=body, headers=dict(headers or {}))
            response = connection.getresponse()
            return response.status, response.read()
        except OSError:
            return 0, b""
        finally:
            connection.close()

    def get_json(self, path: str, token: str) -> Any:
        status, body = self.request("GET", path, headers={"Authorization": f"Token {token}"})
        assert status == 200, (status, body[:500])
        return orjson.loads(body)

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=30)
