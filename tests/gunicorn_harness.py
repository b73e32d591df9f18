"""Real processes for the WSGI tests: `reqlog serve`, gunicorn, each on a free port of 127.0.0.1.

Hermetic: every process gets this environment minus every `REQLOG_*` and `OTEL_*` variable (and
`DJANGO_SETTINGS_MODULE`), plus only what the test sets. Every process started is stopped (and
killed if it will not stop) when its context ends; every wait is bounded.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
GUNICORN = str(Path(sys.executable).with_name("gunicorn"))


def clean_env(**extra: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("REQLOG_", "OTEL_")) and key != "DJANGO_SETTINGS_MODULE"
    }
    env.update(extra)
    return env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, process: subprocess.Popen[Any], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"process exited early with {process.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return
        time.sleep(0.05)
    raise AssertionError(f"nothing listens on port {port}")


def wait_for(predicate: Any, timeout: float = 60.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def stop(process: subprocess.Popen[Any], sig: int = signal.SIGTERM, timeout: float = 60.0) -> int:
    """Send `sig` and wait; a process that will not stop is killed and the test fails."""
    if process.poll() is None:
        process.send_signal(sig)
    try:
        return process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        raise AssertionError(f"process {process.pid} ignored signal {sig}") from None


@contextlib.contextmanager
def reqlog_service(data: Path) -> Iterator[tuple[str, str]]:
    """`reqlog serve` on an empty data directory: its URL and its first-start admin token."""
    port = free_port()
    log = (data / "service.log").open("w+")
    command = [sys.executable, "-m", "query_api.cli", "serve", "--db", str(data / "reqlog.duckdb"), "--port", str(port)]
    process = subprocess.Popen(command, cwd=ROOT, env=clean_env(), stdout=log, stderr=log)
    try:
        wait_for_port(port, process)
        token = ""

        def printed() -> bool:
            nonlocal token
            match = re.search(r"\b([0-9a-f]{40})\b", (data / "service.log").read_text())
            token = match.group(1) if match else ""
            return bool(token)

        wait_for(printed, 20, "the first-start admin token")
        yield f"http://127.0.0.1:{port}", token
    finally:
        stop(process)
        log.close()


class Gunicorn:
    """One gunicorn master with its options; `log` holds its stderr (workers booting and exiting)."""

    def __init__(self, app: str, args: list[str], env: dict[str, str], log: Path) -> None:
        self.port = free_port()
        self.log = log
        self._file = log.open("w+")
        # No control socket: gunicorn 27 puts it at one fixed path, shared by every gunicorn on the machine.
        command = [
            GUNICORN,
            app,
            "--bind",
            f"127.0.0.1:{self.port}",
            "--no-control-socket",
            "--graceful-timeout",
            "20",
            *args,
        ]
        self.process = subprocess.Popen(command, cwd=ROOT, env=clean_env(**env), stdout=self._file, stderr=self._file)
        wait_for_port(self.port, self.process)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def booted(self) -> int:
        return len(re.findall(r"Booting worker with pid", self.log.read_text()))

    def close(self, sig: int = signal.SIGTERM) -> int:
        try:
            return stop(self.process, sig)
        finally:
            self._file.close()


@contextlib.contextmanager
def gunicorn(app: str, args: list[str], env: dict[str, str], log: Path) -> Iterator[Gunicorn]:
    server = Gunicorn(app, args, env, log)
    try:
        yield server
    finally:
        if server.process.poll() is None:
            server.close()


def sql(url: str, token: str, query: str) -> list[list[Any]]:
    with httpx.Client(base_url=url, headers={"Authorization": f"Token {token}"}, timeout=30) as client:
        found = client.post("/api/metrics/sql", json={"sql": query})
    assert found.status_code == 200, found.text
    rows: list[list[Any]] = found.json()["rows"]
    return rows
