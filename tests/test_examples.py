"""Every example app, run as a real process the way its docstring says, in both ways of sending
logs: in-process into a DuckDB file, and over OTLP to a running `reqlog serve`.
"""

from __future__ import annotations

import contextlib
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from exporter import RequestLogStore
from tests.hermetic import clean_environ

ROOT = Path(__file__).resolve().parents[1]
FIREFOX = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:145.0) Gecko/20100101 Firefox/145.0"


@dataclass(frozen=True)
class Example:
    name: str
    service: str
    command: list[str]
    requests: list[tuple[str, str, dict[str, object]]]  # method, path, httpx keyword arguments
    expected: list[tuple[str, int]]  # (endpoint, status) of the stored rows, sorted


EXAMPLES = [
    Example(
        "raw_asgi",
        "example-raw-asgi",
        ["-m", "examples.raw_asgi_app"],
        [("GET", "/", {}), ("POST", "/", {"json": {"a": 1}}), ("GET", "/boom", {})],
        [("/", 200), ("/", 200), ("/boom", 500)],
    ),
    Example(
        "starlette",
        "example-starlette",
        ["-m", "examples.starlette_app"],
        [("GET", "/", {}), ("POST", "/login", {"data": {"username": "ada", "password": "x"}}), ("GET", "/boom", {})],
        [("/", 200), ("/boom", 500), ("/login", 200)],
    ),
    Example(
        "fastapi",
        "example-fastapi",
        ["-m", "examples.fastapi_app"],
        [("GET", "/items/3", {}), ("POST", "/orders", {"json": {"item": "tea", "quantity": 2}}), ("GET", "/boom", {})],
        [("/boom", 500), ("/items/3", 200), ("/orders", 201)],
    ),
    Example(
        "django",
        "example-django",
        ["-m", "uvicorn", "examples.django_site.asgi:application", "--log-level", "warning", "--port", "{port}"],
        [("GET", "/", {}), ("POST", "/echo/ada/", {"json": {"x": 1}}), ("GET", "/boom/", {})],
        [("/", 200), ("/boom/", 500), ("/echo/ada/", 201)],
    ),
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, process: subprocess.Popen[str], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"process exited early:\n{process.stderr.read() if process.stderr else ''}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return
        time.sleep(0.05)
    raise AssertionError(f"nothing listens on port {port}")


def stop(process: subprocess.Popen[str]) -> None:
    """Ctrl-C, as a user would stop it; the example then flushes its last batch."""
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        raise


@contextlib.contextmanager
def running(example: Example, env: dict[str, str]) -> Iterator[int]:
    port = free_port()
    command = [sys.executable, *(part.replace("{port}", str(port)) for part in example.command)]
    environ = clean_environ({**env, "PORT": str(port)})
    process = subprocess.Popen(command, cwd=ROOT, env=environ, text=True, stderr=subprocess.PIPE)
    try:
        wait_for_port(port, process)
        yield port
    finally:
        if process.poll() is None:
            stop(process)
        if process.stderr:
            process.stderr.close()


def send_traffic(example: Example, port: int) -> None:
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"User-Agent": FIREFOX}) as client:
        for method, path, kwargs in example.requests:
            client.request(method, path, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda e: e.name)
def test_in_process_exporter(example: Example, tmp_path: Path) -> None:
    db = tmp_path / "example.duckdb"
    with running(example, {"REQLOG_EXPORTER": "reqlog_duckdb", "REQLOG_DB": str(db)}) as port:
        send_traffic(example, port)
    store = RequestLogStore(db)
    try:
        rows = (
            store.cursor()
            .execute("SELECT endpoint, status_code, exception_type, service_name, browser, body FROM request_logs")
            .fetchall()
        )
    finally:
        store.close()
    assert sorted((r[0], r[1]) for r in rows) == example.expected
    assert {r[3] for r in rows} == {example.service}
    assert {r[4] for r in rows} == {"Firefox"}
    assert [r[2] for r in rows if r[1] == 500] == ["RuntimeError"]
    assert all("[REDACTED]" in r[5] for r in rows if r[5] and "password" in r[5])


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """`reqlog serve` on an empty data directory; its first-start admin token."""
    data = tmp_path_factory.mktemp("service")
    port = free_port()
    command = [sys.executable, "-m", "query_api.cli", "serve", "--db", str(data / "reqlog.duckdb"), "--port", str(port)]
    process = subprocess.Popen(command, cwd=ROOT, env=clean_environ(), text=True, stdout=subprocess.PIPE)
    try:
        wait_for_port(port, process)
        assert process.stdout is not None
        token = ""
        deadline = time.monotonic() + 10
        while not token and time.monotonic() < deadline:
            match = re.search(r"\b([0-9a-f]{40})\b", process.stdout.readline())
            token = match.group(1) if match else ""
        assert token, "the first start printed no admin token"
        yield f"http://127.0.0.1:{port}", token
    finally:
        stop(process)
        if process.stdout:
            process.stdout.close()


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda e: e.name)
def test_otlp_to_the_service(example: Example, service: tuple[str, str]) -> None:
    url, token = service
    with running(example, {"REQLOG_ENDPOINT": url, "REQLOG_TOKEN": token, "REQLOG_EXPORTER": "otlp"}) as port:
        send_traffic(example, port)
    # The example's exit flushed its batch, and the service answered only after committing it.
    with httpx.Client(base_url=url, headers={"Authorization": f"Token {token}"}) as client:
        found = client.post(
            "/api/metrics/sql",
            json={"sql": f"SELECT endpoint, status_code FROM request_logs WHERE service_name = '{example.service}'"},
        )
    assert found.status_code == 200, found.text
    assert sorted((r[0], r[1]) for r in found.json()["rows"]) == example.expected
