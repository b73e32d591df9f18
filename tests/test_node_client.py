"""A real client from another language: a Node.js HTTP server instrumented with the official
OpenTelemetry JavaScript SDK (`tests/node/`, pinned by its lockfile, installed by `make test`)
exports over OTLP/HTTP, protobuf or JSON, to a live `reqlog serve`.

Requests of every shape (methods including PURGE, which the SDK sends as `_OTHER`, query strings,
percent-encoded paths, captured headers with a credential, a 404, an exception) are checked field
by field through the API, and 2,000 more requests must give exactly 2,000 rows, each span once.
The SDK is shut down cleanly before anything is read: whatever the service answered 2xx is stored.
"""

from __future__ import annotations

import http.client
import os
import re
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import orjson
import pytest

from query_api.accounts.db import AccountDB, accounts_path_for
from query_api.auth import PERM_INGEST, PERM_VIEW_LOGS

NODE_DIR = Path(__file__).parent / "node"
BULK = 2000
FIREFOX = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:145.0) Gecko/20100101 Firefox/145.0"


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without any REQLOG_* or OTEL_* variable, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REQLOG_", "OTEL_"))}
    return {**env, **extra}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def read_line(process: subprocess.Popen[str], timeout: float) -> str:
    """The next stdout line of `process`, waiting at most `timeout` seconds."""
    assert process.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        assert selector.select(timeout), f"no output within {timeout} s"
    return process.stdout.readline()


class Service:
    """`reqlog serve` on a free loopback port, started with a clean environment."""

    def __init__(self, db: Path, log: Path) -> None:
        self.port, self._log = free_port(), log.open("w")
        self.log_path = log
        self.process = subprocess.Popen(
            [sys.executable, "-m", "query_api.cli", "serve", "--db", str(db), "--port", str(self.port)],
            env=clean_env(), stdout=subprocess.DEVNULL, stderr=self._log,
        )  # fmt: skip
        deadline = time.monotonic() + 30
        while self.get("/api/openapi.json")[0] != 200:
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise AssertionError(f"reqlog serve did not start: {log.read_text()}")
            time.sleep(0.05)

    def get(self, path: str, token: str | None = None) -> tuple[int, Any]:
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}")
        if token:
            request.add_header("Authorization", f"Token {token}")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, orjson.loads(response.read())
        except urllib.error.HTTPError as error:
            with error:
                return error.code, orjson.loads(error.read())
        except OSError:
            return 0, None

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=30)
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()
            self._log.close()


class NodeServer:
    """tests/node/server.js exporting with `protocol` to the service, on a free port."""

    def __init__(self, protocol: str, service: Service, token: str) -> None:
        node = shutil.which("node")
        assert node, "Node.js is needed: install Node 20"
        assert (NODE_DIR / "node_modules" / "@opentelemetry").is_dir(), "run `make node` (make test does) first"
        url = f"http://127.0.0.1:{service.port}/v1/traces"
        self.process = subprocess.Popen(
            [node, str(NODE_DIR / "server.js"), protocol, url, token], cwd=NODE_DIR, env=clean_env(),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            self.port = int(orjson.loads(read_line(self.process, 30))["port"])
        except BaseException:
            self.kill()
            raise
        self.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)

    def call(self, method: str, path: str, body: bytes | None = None, **headers: str) -> int:
        """One request on the kept-alive connection; the status."""
        self.connection.request(method, path, body=body, headers={"User-Agent": FIREFOX, **headers})
        response = self.connection.getresponse()
        response.read()
        return response.status

    def shutdown(self) -> str:
        """SIGTERM: the SDK exports what it holds and the process exits 0. Returns its stderr."""
        self.connection.close()
        self.process.send_signal(signal.SIGTERM)
        assert orjson.loads(read_line(self.process, 60)) == {"shutdown": "ok"}
        assert self.process.wait(timeout=30) == 0
        assert self.process.stderr is not None
        return self.process.stderr.read()

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "data" / "reqlog.duckdb"


@pytest.fixture
def tokens(db: Path) -> tuple[str, str]:
    """(ingest token, viewer token) in the accounts file `reqlog serve --db db` uses."""
    db.parent.mkdir(parents=True, exist_ok=True)
    with AccountDB(accounts_path_for(db)) as accounts:
        accounts.create_account("node-collector", permissions=[PERM_INGEST])
        accounts.create_account("viewer", is_staff=True, permissions=[PERM_VIEW_LOGS])
        return accounts.create_token("node-collector"), accounts.create_token("viewer")


@pytest.fixture
def service(db: Path, tmp_path: Path, tokens: tuple[str, str]) -> Iterator[Service]:
    running = Service(db, tmp_path / "serve.log")  # after `tokens`: the accounts exist
    yield running
    assert running.stop() == 0, running.log_path.read_text()


def trace_id(n: int) -> str:
    return f"{0x0DE0000 + n:032x}"


def traceparent(n: int) -> str:
    return f"00-{trace_id(n)}-{n + 1:016x}-01"


@pytest.mark.parametrize("protocol", ["proto", "json"])
def test_node_sdk_requests_become_rows_field_by_field(
    protocol: str, service: Service, tokens: tuple[str, str], db: Path
) -> None:
    ingest, viewer = tokens
    node = NodeServer(protocol, service, ingest)
    try:
        assert node.call("GET", "/items/7?q=1&tag=a&tag=b", traceparent=traceparent(1), **{"X-Request-Id": "r-1",
                         "Authorization": "Token hunter2"}) == 200  # fmt: skip
        assert node.call("POST", "/orders", b'{"items": [1, 2]}', traceparent=traceparent(2),
                         **{"Content-Type": "application/json"}) == 201  # fmt: skip
        assert node.call("PURGE", "/cache/items/7", traceparent=traceparent(3)) == 204
        assert node.call("GET", "/files/caf%C3%A9/100%2525%20off?x=%C3%A9", traceparent=traceparent(4)) == 200
        assert node.call("GET", "/boom", traceparent=traceparent(5)) == 500
        assert node.call("DELETE", "/missing/9", traceparent=traceparent(6)) == 404
        for n in range(BULK):
            assert node.call("GET", f"/bulk/{n}") == 200
        stderr = node.shutdown()
    finally:
        node.kill()
    assert stderr == ""  # no export failed
    base = {
        "user": None, "ip": "127.0.0.1",  # the SDK reports `::ffff:127.0.0.1`
        "device": "Other", "device_type": "pc", "is_bot": False, "os": "Windows", "browser": "Firefox",
        "scheme": "http", "method": "GET", "status_code": 200, "exception_type": None, "query_params": {},
        "body": None, "response": None,  # the JavaScript SDK captures no bodies
        "request_headers": {"User-Agent": FIREFOX},
        # Unknown response headers keep the case they arrived in, and OTel lowercases every name.
        "response_headers": {"Content-Type": "application/json", "x-served-by": "node"},
        "exception_message": None, "exception_traceback": None, "service_name": f"node-shop-{protocol}",
        "route": None, "request_body_size": None, "response_body_size": None, "request_body_truncated": False,
        "response_body_truncated": False,
    }  # fmt: skip
    expected = {
        1: {"endpoint": "/items/7", "query_params": {"q": "1", "tag": ["a", "b"]},
            "request_headers": {"User-Agent": FIREFOX, "X-Request-ID": "r-1", "Authorization": "[REDACTED]"}},
        2: {"endpoint": "/orders", "method": "POST", "status_code": 201,
            "request_headers": {"User-Agent": FIREFOX, "Content-Type": "application/json"}},
        3: {"endpoint": "/cache/items/7", "method": "PURGE", "status_code": 204,  # sent as _OTHER + original
            "response_headers": {"x-served-by": "node"}},
        4: {"endpoint": "/files/caf\u00e9/100%25 off", "query_params": {"x": "\u00e9"}},  # decoded once
        5: {"endpoint": "/boom", "status_code": 500, "exception_type": "TypeError",
            "exception_message": "the oven is cold"},
        6: {"endpoint": "/missing/9", "method": "DELETE", "status_code": 404},
    }  # fmt: skip
    for n, changes in expected.items():
        status, page = service.get(f"/api/metrics/request_logs?trace_id={trace_id(n)}", viewer)
        assert status == 200, page
        assert len(page["results"]) == 1, (n, page)
        row = page["results"][0]
        assert_times_and_ids(row, n)
        if n == 5:
            # The JavaScript stack: the message, then frames naming the server's file.
            traceback = row["exception_traceback"]
            assert traceback.startswith("TypeError: the oven is cold\n    at ") and "server.js:" in traceback
            changes["exception_traceback"] = traceback
        assert row == {**base, **changes}, n

    assert service.stop() == 0, service.log_path.read_text()  # the file is ours to read now
    with duckdb.connect(str(db), read_only=True) as connection:
        bulk = "FILTER (starts_with(endpoint, '/bulk/'))"
        counts = connection.execute(
            f"SELECT count(*), count(DISTINCT span_id), count(DISTINCT endpoint) {bulk}, count(*) {bulk} "
            "FROM request_logs"
        ).fetchone()
    assert counts == (BULK + len(expected), BULK + len(expected), BULK, BULK)


def assert_times_and_ids(row: dict[str, Any], n: int) -> None:
    """Pop the fields that differ per run after checking their shape and consistency."""
    moment = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?Z"
    started, finished = row.pop("started_at"), row.pop("finished_at")
    assert re.fullmatch(moment, started) and re.fullmatch(moment, finished)
    assert re.fullmatch(moment, row.pop("created_at")) and re.fullmatch(moment, row.pop("updated_at"))
    assert started <= finished and 0 <= row.pop("duration") < 10
    assert isinstance(row.pop("id"), int)
    assert row.pop("trace_id") == trace_id(n)
    assert re.fullmatch("[0-9a-f]{16}", row.pop("span_id"))
