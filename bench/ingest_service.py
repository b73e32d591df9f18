"""`reqlog serve` as a user starts it, and the OTLP clients that POST to it (`bench/ingest.py`, `bench/lake.py`).

The service runs as a subprocess on a fresh data directory with an ingest-only account; a client
POSTs pre-encoded `ExportTraceServiceRequest`s of BATCH spans on one keep-alive connection, and a
2xx means the rows are committed.
"""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from bench.common import run_threads
from query_api.accounts.db import AccountDB
from query_api.auth import PERM_INGEST

BATCH = 512
CLIENTS = 4
START_TIMEOUT = 60.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Service:
    """`reqlog serve` on a fresh data directory, with an ingest-only account."""

    def __init__(self, data: Path, env: dict[str, str] | None = None) -> None:
        self.db = data / "reqlog.duckdb"
        self.port = _free_port()
        with AccountDB(data / "accounts.sqlite3") as accounts:
            accounts.create_account("collector", permissions=[PERM_INGEST])
            self.token = accounts.create_token("collector")
        self._log = (data / "serve.log").open("w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "query_api.cli", "serve", "--db", str(self.db), "--port", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=self._log,
            env={**os.environ, "REQLOG_ACCOUNTS_DB": str(data / "accounts.sqlite3"), **(env or {})},
        )
        deadline = time.monotonic() + START_TIMEOUT
        while not self._ready():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"reqlog serve did not start: see {data / 'serve.log'}")
            time.sleep(0.05)

    def _ready(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                return True
        except OSError:
            return False

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(60)
        self._log.close()


def send_concurrently(port: int, token: str, bodies: list[bytes], latencies: list[float], errors: list[str]) -> float:
    """`bodies` shared among `CLIENTS` threads, each one connection; the seconds until all are sent."""
    return run_threads(
        [
            threading.Thread(target=send_all, args=(port, token, bodies[i::CLIENTS], latencies, errors))
            for i in range(CLIENTS)
        ]
    )


def send_all(port: int, token: str, bodies: list[bytes], latencies: list[float], errors: list[str]) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    headers = {"Content-Type": "application/x-protobuf", "Authorization": f"Token {token}"}
    try:
        for body in bodies:
            for _attempt in range(50):  # bounded: a 503 asks to come back after Retry-After
                start = time.perf_counter()
                connection.request("POST", "/v1/traces", body=body, headers=headers)
                response = connection.getresponse()
                response.read()
                if response.status == 200:
                    latencies.append(time.perf_counter() - start)
                    break
                if response.status != 503:
                    errors.append(f"HTTP {response.status}")
                    return
                time.sleep(float(response.getheader("Retry-After") or 1))
            else:
                errors.append("still 503 after 50 attempts")
                return
    finally:
        connection.close()
