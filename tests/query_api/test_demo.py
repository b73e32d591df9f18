"""`reqlog demo` end to end, as a user runs it: a real process, real service, real sample app."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
from pathlib import Path

from exporter import REDACTED, RequestLogStore
from tests.hermetic import clean_environ

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def demo_command(data: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "query_api.cli", "demo", "--requests", "20", "--port", str(free_port()),
            "--data", str(data), *extra]  # fmt: skip


def test_demo_stores_every_request_redacted(tmp_path: Path) -> None:
    done = subprocess.run(
        demo_command(tmp_path, "--no-wait"),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env=clean_environ(),
    )
    assert done.returncode == 0, done.stderr
    assert "20 requests sent, 20 request logs stored." in done.stdout
    for title in ("Requests by status", "Requests by device type", "Slowest routes"):
        assert title in done.stdout
    assert 'curl -H "Authorization: Token ' in done.stdout and "status=5xx" in done.stdout

    store = RequestLogStore(tmp_path / "reqlog.duckdb")
    try:
        rows = (
            store.cursor()
            .execute(
                "SELECT endpoint, status_code, device_type, is_bot, body, exception_type, service_name"
                " FROM request_logs"
            )
            .fetchall()
        )
    finally:
        store.close()
    assert len(rows) == 20
    assert {r[6] for r in rows} == {"demo-shop"}
    assert {r[2] for r in rows} == {"pc", "mobile", "tablet", "other"}
    assert any(r[3] for r in rows)  # the crawler
    logins = [json.loads(r[4]) for r in rows if r[0] == "/login"]
    assert logins and all(body == {"username": "ada", "password": REDACTED} for body in logins)
    orders = [json.loads(r[4]) for r in rows if r[0] == "/api/orders"]
    assert orders and all(body["card_number"] == REDACTED for body in orders)
    assert {(r[1], r[5]) for r in rows if r[0] == "/checkout"} == {(500, "RuntimeError")}
    assert {r[1] for r in rows if r[0] in ("/no-such-page", "/products/404")} == {404}


def test_demo_waits_and_stops_cleanly_on_ctrl_c(tmp_path: Path) -> None:
    process = subprocess.Popen(demo_command(tmp_path), cwd=ROOT, stdout=subprocess.PIPE, text=True, env=clean_environ())
    assert process.stdout is not None
    for line in process.stdout:
        if "Press Ctrl-C" in line:
            break
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=30) == 0
    process.stdout.close()


def test_demo_shows_one_full_request_and_leaves_no_directory(tmp_path: Path) -> None:
    environ = clean_environ({"TMPDIR": str(tmp_path)})  # where its own data directory goes
    done = subprocess.run(
        [sys.executable, "-m", "query_api.cli", "demo", "--requests", "12", "--port", str(free_port()), "--no-wait"],
        cwd=ROOT, capture_output=True, text=True, timeout=120, env=environ,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    shown = done.stdout.split("One request as the API serves it (GET /api/metrics/request_logs/", 1)[1]
    row = json.loads(shown.split("):\n", 1)[1].split("\n\n", 1)[0])
    assert row["endpoint"] == "/account/password" and row["status_code"] == 500
    assert row["body"] == {"password": REDACTED, "new_password": REDACTED}
    assert row["user"]["username"] == "ada" and row["user"]["full_name"] == "Ada Lovelace"
    assert row["user"]["id"] in (42, "42")
    assert row["exception_type"] == "ConnectionError" and "Traceback" in row["exception_traceback"]
    assert "hunter2" not in done.stdout and "correct horse" not in done.stdout
    assert list(tmp_path.iterdir()) == []  # its temporary data directory is gone


def test_make_demo_has_its_own_port_and_respects_port() -> None:
    def planned(*args: str, **env: str) -> str:
        # Without the variables of an outer make (`make test` runs this), which would change what make prints.
        outer = ("PORT", "MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES")
        environ = {k: v for k, v in clean_environ().items() if k not in outer}
        environ.update(env)
        command = ["make", "--no-print-directory", "-n", "demo", *args]
        out = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, env=environ)
        return out.stdout.strip().splitlines()[-1]

    assert planned().endswith("reqlog demo --port 8765")
    assert planned(PORT="9100").endswith("reqlog demo --port 9100")
    assert planned("PORT=9200").endswith("reqlog demo --port 9200")
