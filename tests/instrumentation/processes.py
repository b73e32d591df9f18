"""Real processes for the lifecycle tests: a `reqlog serve`, an app under a real server, a clean environment.

Every child gets the parent's environment with every `REQLOG_*` and `OTEL_*` variable removed, then only
what the test sets, so a developer's (or CI's) settings never reach it. Ports are free ports picked at
run time; every process started here is stopped (SIGKILL as a last resort) by its owner's `stop()`.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from exporter.store import RequestLogStore

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 60.0
STOP_TIMEOUT = 60.0


def clean_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """`os.environ` without `REQLOG_*`/`OTEL_*`, plus `extra` and the repository on `PYTHONPATH`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REQLOG_", "OTEL_"))}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    env.update(extra or {})
    return env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def get(port: int, path: str, timeout: float = 10.0) -> int:
    """GET `path` on 127.0.0.1:`port`; the status (the body is read and dropped)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def reqlog(db: Path, *args: str) -> str:
    """Run a `reqlog` command against `db` to completion; its stdout."""
    done = subprocess.run(
        [sys.executable, "-m", "query_api.cli", *args, "--db", str(db)],
        capture_output=True,
        text=True,
        timeout=60,
        env=clean_env(),
        cwd=str(ROOT),
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def ingest_token(db: Path, username: str = "ingest", grant: Sequence[str] = ("3602",)) -> str:
    """A new account holding `grant` and a token for it, made with the `reqlog` CLI."""
    grants = ["--grant", *grant] if grant else []
    reqlog(db, "account", "create", username, *grants)
    return reqlog(db, "token", "create", username).strip()


def count_rows(db: Path) -> int:
    """Rows in the DuckDB file (no process may hold it meanwhile)."""
    store = RequestLogStore(db)
    try:
        return store.count()
    finally:
        store.close()


class Process:
    """A child process with its stderr in a file; `stop()` signals it and waits, killing if it must."""

    def __init__(self, argv: Sequence[str], log: Path, env: Mapping[str, str], cwd: Path) -> None:
        self.log_path = log
        self._log = log.open("w")
        self.process = subprocess.Popen(
            list(argv), stdout=subprocess.DEVNULL, stderr=self._log, env=dict(env), cwd=str(cwd)
        )

    def stderr(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text()

    def wait_http(self, port: int, path: str) -> None:
        """Poll `path` until it answers 200; fail if the process dies or the deadline passes."""
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            assert self.process.poll() is None, self.stderr()
            with contextlib.suppress(OSError, http.client.HTTPException):
                if get(port, path, timeout=2) == 200:
                    return
            assert time.monotonic() < deadline, f"{path} never answered:\n{self.stderr()}"
            time.sleep(0.1)

    def stop(self, sig: int = signal.SIGTERM) -> int:
        """Send `sig` (if still running) and wait for the exit; its return code."""
        try:
            if self.process.poll() is None:
                self.process.send_signal(sig)
            try:
                return self.process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
                raise
        finally:
            self._log.close()


class ReqlogService(Process):
    """`reqlog serve` on a free port over `db`."""

    def __init__(self, db: Path, log: Path) -> None:
        self.db, self.port = db, free_port()
        argv = [sys.executable, "-m", "query_api.cli", "serve", "--db", str(db), "--port", str(self.port)]
        super().__init__(argv, log, clean_env(), ROOT)
        try:
            self.wait_http(self.port, "/api/openapi.json")
        except BaseException:
            self.stop(signal.SIGKILL)
            raise

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"
