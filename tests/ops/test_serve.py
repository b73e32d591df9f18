"""`reqlog serve` as a new user meets it: the ready line, a busy port or bad host in one line, a quiet Ctrl-C."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from tests.hermetic import clean_environ
from tests.otlp_payloads import pb_request, pb_span
from tests.query_api.harness import TOKEN_LINE

BOUND = 600  # polls of 50 ms for the ready line; the process ending stops the wait too


def _serve(tmp_path: Path, *args: str, new_session: bool = False) -> tuple[subprocess.Popen[bytes], Path, Path]:
    out, err = tmp_path / "serve.out", tmp_path / "serve.err"
    with out.open("w") as stdout, err.open("w") as stderr:  # the child keeps its own copies
        process = subprocess.Popen(
            [sys.executable, "-m", "query_api.cli", "serve", "--db", str(tmp_path / "data" / "reqlog.duckdb"), *args],
            stdout=stdout,
            stderr=stderr,
            env=clean_environ(),
            start_new_session=new_session,  # its own process group: a Ctrl-C reaches it and its workers only
        )
    return process, out, err


def _wait_ready(process: subprocess.Popen[bytes], err: Path) -> str:
    for _ in range(BOUND):
        match = re.search(r"reqlog: ready: serving .* on (http://\S+)", err.read_text())
        if match:
            return match.group(1)
        assert process.poll() is None, err.read_text()
        time.sleep(0.05)
    raise AssertionError("no ready line")


def test_a_busy_port_is_one_line_and_exit_1(tmp_path: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        process, out, err = _serve(tmp_path, "--port", str(port))
        assert process.wait(timeout=60) == 1
    lines = err.read_text().splitlines()
    assert lines == [f"reqlog: error: cannot listen on 127.0.0.1:{port}: Address already in use; another process "
                     "uses it (another reqlog serve?): pick another --port"]  # fmt: skip
    assert out.read_text() == ""  # no admin token shown for a service that never ran
    assert not (tmp_path / "data").exists()  # nothing created


def test_a_bad_host_is_one_line_and_exit_1(tmp_path: Path) -> None:
    process, out, err = _serve(tmp_path, "--host", "no-such-host.invalid", "--port", "0")
    assert process.wait(timeout=60) == 1
    (line,) = err.read_text().splitlines()
    assert line.startswith("reqlog: error: cannot listen on no-such-host.invalid:0: the host does not resolve")
    assert "Traceback" not in line and out.read_text() == ""


def test_ready_line_then_ctrl_c_stops_it_without_a_traceback(tmp_path: Path) -> None:
    process, out, err = _serve(tmp_path, "--port", "0", new_session=True)
    try:
        url = _wait_ready(process, err)
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", url) and not url.endswith(":0")
        token = TOKEN_LINE.findall(out.read_text())[0]
        assert url in out.read_text()  # the first-start hints name the real port
        # A span, so that the decoding process has started: it gets the Ctrl-C too.
        body = pb_request([pb_span({"http.request.method": "GET"})]).SerializeToString()
        request = urllib.request.Request(
            f"{url}/v1/traces",
            data=body,
            headers={"Content-Type": "application/x-protobuf", "Authorization": f"Token {token}"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            assert response.status == 200
        with urllib.request.urlopen(f"{url}/readyz", timeout=30) as response:
            assert response.status == 200
        os.killpg(process.pid, signal.SIGINT)  # what a terminal does on Ctrl-C: the whole foreground group
        assert process.wait(timeout=60) == 0
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    log = err.read_text()
    assert "Traceback" not in log and "KeyboardInterrupt" not in log, log
    assert "request-log store closed" in log


def test_version() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "query_api.entry", "--version"], capture_output=True, text=True, env=clean_environ()
    )
    assert done.returncode == 0 and re.fullmatch(r"reqlog \d+\.\d+\.\d+\S*\n", done.stdout), done
