"""The next commands the first `reqlog serve` (`make run`) prints, pasted into a shell as printed."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path

from tests.hermetic import clean_environ
from tests.query_api.harness import Service

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _shell(command: str, **env: str) -> str:
    done = subprocess.run(
        ["bash", "-c", command], cwd=ROOT, capture_output=True, text=True, timeout=60, env=clean_environ(env)
    )
    assert done.returncode == 0, f"{command}\n{done.stderr}"
    return done.stdout


def test_the_printed_next_commands_work_when_pasted(tmp_path: Path) -> None:
    service = Service(tmp_path / "data" / "reqlog.duckdb", tmp_path / "serve.log")
    app: subprocess.Popen[bytes] | None = None
    try:
        printed = service.stdout()
        run_app = re.search(r"1\. run an instrumented app: (.+)\n\s+and call it: (curl \S+)", printed)
        listing = re.search(r"2\. list the request logs: +(curl .+)\n", printed)
        sql = re.search(r"3\. ask with SQL: +(curl .+)\n", printed)
        assert run_app and listing and sql, printed
        app_port = _free_port()  # the example's default 8001 may be taken on a shared machine
        with (tmp_path / "app.log").open("w") as log:
            app = subprocess.Popen(
                ["bash", "-c", run_app.group(1)], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                env=clean_environ({"PORT": str(app_port)}), start_new_session=True,
            )  # fmt: skip
        call = run_app.group(2).replace(":8001/", f":{app_port}/")
        for _ in range(400):  # 50 ms each: the app starts
            if subprocess.run(["bash", "-c", f"{call} --silent --fail"], capture_output=True).returncode == 0:
                break
            assert app.poll() is None, (tmp_path / "app.log").read_text()
            time.sleep(0.05)
        assert json.loads(_shell(call)) == {"hello": "world"}
        rows: list[dict[str, object]] = []
        for _ in range(200):  # 50 ms each: "its logs arrive within 5 s"
            rows = json.loads(_shell(listing.group(1)))["results"]
            if rows:
                break
            time.sleep(0.05)
        # The start-up probe and the call: each one row.
        assert rows and {(row["endpoint"], row["status_code"]) for row in rows} == {("/", 200)}
        answer = json.loads(_shell(sql.group(1)))
        assert answer["columns"] == ["method", "endpoint", "status_code", "duration"]
        assert answer["rows"] and {tuple(row[:3]) for row in answer["rows"]} == {("GET", "/", 200)}
    finally:
        if app is not None and app.poll() is None:
            os.killpg(app.pid, signal.SIGTERM)  # the shell and the app it started
            app.wait(timeout=30)
        assert service.stop(signal.SIGTERM) == 0
