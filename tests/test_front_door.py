"""The README's first command, `make run`, on an empty data directory, as a newcomer runs it."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import httpx

from tests.hermetic import clean_environ

ROOT = Path(__file__).resolve().parents[1]
TOKEN = re.compile(r"^\s+([0-9a-f]{40})$", re.MULTILINE)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def make_run(db: Path, port: int) -> tuple[str, int]:
    """Start `make run`, wait until it serves, return what it printed; then stop it with Ctrl-C."""
    process = subprocess.Popen(
        ["make", "-s", "run", f"PORT={port}"],
        cwd=ROOT,
        env=clean_environ({"REQLOG_DB": str(db)}),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,  # as a terminal shows them: the token (stdout) and the log (stderr)
        text=True,
        start_new_session=True,  # so Ctrl-C reaches make and the service, as in a terminal
    )
    assert process.stdout is not None
    lines: list[str] = []
    # A thread reads the output line by line: select() on a buffered text pipe misses lines that came
    # in one burst and sit in Python's buffer.
    reader = threading.Thread(target=lambda: lines.extend(iter(process.stdout.readline, "")), daemon=True)  # type: ignore[union-attr]
    reader.start()
    try:
        deadline = time.monotonic() + 60
        while not any("serving" in line for line in lines) and time.monotonic() < deadline:
            assert process.poll() is None, "".join(lines)
            time.sleep(0.05)
        printed = "".join(lines)
        assert "serving" in printed, printed
        while time.monotonic() < deadline:  # "serving" comes just before the socket is bound
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        token = TOKEN.findall(printed)
        if token:
            answer = httpx.get(
                f"http://127.0.0.1:{port}/api/metrics/request_logs", headers={"Authorization": f"Token {token[0]}"}
            )
            assert answer.status_code == 200, answer.text
            assert answer.json() == {"next": None, "previous": None, "results": []}
    finally:
        os.killpg(process.pid, signal.SIGINT)
        code = process.wait(timeout=30)
        reader.join(timeout=10)
        process.stdout.close()
    return "".join(lines), code


def test_make_run_prints_a_working_token_once_and_reuses_the_data(tmp_path: Path) -> None:
    db = tmp_path / "data" / "reqlog.duckdb"
    first, code = make_run(db, free_port())
    assert code in (0, 2, -signal.SIGINT)  # make dies of the Ctrl-C it passed on; the service shut down:
    assert "request-log store closed" in first
    assert len(TOKEN.findall(first)) == 1
    assert "Next, in another terminal:" in first
    assert all(f"  {n}. " in first for n in (1, 2, 3))
    assert db.exists()

    again, _ = make_run(db, free_port())
    assert TOKEN.findall(again) == []
    assert "accounts exist" in again
