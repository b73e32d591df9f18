"""Helpers for the query-API tests: realistic rows, a seeded database file, accounts with tokens."""

from __future__ import annotations

import dataclasses
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from exporter.row import RequestLog
from exporter.store import RequestLogStore
from query_api.accounts.db import AccountDB
from query_api.auth import PERM_INGEST, PERM_SQL, PERM_VIEW_LOGS
from tests.hermetic import clean_environ

START_TIMEOUT = 30.0
TOKEN_LINE = re.compile(r"^\s+([0-9a-f]{40})$", re.MULTILINE)  # the first-start admin token on stdout
BASE_TIME = datetime(2025, 11, 19, 14, 0, 0)


def make_row(index: int = 0, **overrides: Any) -> RequestLog:
    """A plausible request-log row; `index` varies the time and ids, `overrides` set fields."""
    started = BASE_TIME + timedelta(seconds=index)
    values: dict[str, Any] = {
        "ip": "10.0.0.1",
        "device": "Other",
        "device_type": "pc",
        "is_bot": False,
        "os": "Windows",
        "browser": "Firefox",
        "scheme": "https",
        "endpoint": f"/api/items/{index}",
        "method": "GET",
        "status_code": 200,
        "started_at": started,
        "finished_at": started + timedelta(milliseconds=25),
        "duration": 0.025,
        "query_params": "{}",
        "request_headers": orjson.dumps({"Host": "example.com", "User-Agent": "Mozilla/5.0"}).decode(),
        "response_headers": orjson.dumps({"Content-Type": "application/json"}).decode(),
        "response": orjson.dumps({"ok": True, "index": index}).decode(),
        "trace_id": f"{index:032x}",
        "span_id": f"{index + 1:016x}",
        "service_name": "shop",
        "route": "/api/items/{id}",
    }
    values.update(overrides)
    return RequestLog(**values)


def seed(db_path: Path, rows: Iterable[RequestLog]) -> list[tuple[Any, ...]]:
    """Store `rows` in the DuckDB file (before the service opens it); return the stored values."""
    store = RequestLogStore(db_path)
    try:
        return store.insert_rows(list(rows))
    finally:
        store.close()


@dataclasses.dataclass(frozen=True)
class Tokens:
    """One token per kind of caller the access rule distinguishes."""

    admin: str
    staff_viewer: str  # staff holding 3601
    staff_plain: str  # staff without 3601
    viewer_not_staff: str  # holds 3601 but is not staff
    inactive: str  # staff with 3601, deactivated
    ingest_only: str  # holds 3602 and 3603, not 3601


def make_accounts(accounts_path: Path) -> Tokens:
    """Create the callers of `Tokens` in the accounts database and return their tokens."""
    with AccountDB(accounts_path) as db:
        db.create_account("root", full_name="Root", is_staff=True, is_superuser=True)
        db.create_account("alice", full_name="Alice", is_staff=True, permissions=[PERM_VIEW_LOGS])
        db.create_account("bob", is_staff=True)
        db.create_account("carol", permissions=[PERM_VIEW_LOGS])
        db.create_account("dave", is_staff=True, permissions=[PERM_VIEW_LOGS])
        db.create_account("erin", is_staff=True, permissions=[PERM_INGEST, PERM_SQL])
        tokens = Tokens(
            admin=db.create_token("root"),
            staff_viewer=db.create_token("alice"),
            staff_plain=db.create_token("bob"),
            viewer_not_staff=db.create_token("carol"),
            inactive=db.create_token("dave"),
            ingest_only=db.create_token("erin"),
        )
        db.set_active("dave", False)
    return tokens


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Token {token}"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def reqlog(*args: str, db: Path) -> subprocess.CompletedProcess[str]:
    """Run a `reqlog` command to completion; fail the test on a non-zero exit."""
    done = subprocess.run(
        [sys.executable, "-m", "query_api.cli", *args, "--db", str(db)],
        capture_output=True,
        text=True,
        timeout=60,
        env=clean_environ(),
    )
    assert done.returncode == 0, done.stderr
    return done


class Service:
    """A running `reqlog serve`; its stderr (the log) and stdout (the first token) go to files the test can read."""

    def __init__(self, db: Path, log: Path, *, env: dict[str, str] | None = None) -> None:
        self.db, self.log_path, self.port = db, log, _free_port()
        self.out_path = log.with_name(log.name + ".stdout")
        self._log = log.open("w")
        self._out = self.out_path.open("w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "query_api.cli", "serve", "--db", str(db), "--port", str(self.port)],
            stdout=self._out,
            stderr=self._log,
            env=clean_environ(env),
        )
        try:
            deadline = time.monotonic() + START_TIMEOUT
            while self.get("/api/openapi.json")[0] != 200:
                assert self.process.poll() is None, self.stderr()
                assert time.monotonic() < deadline, "reqlog serve did not start"
                time.sleep(0.05)
        except BaseException:
            self.stop(signal.SIGKILL)
            raise

    def stderr(self) -> str:
        return self.log_path.read_text()

    def stdout(self) -> str:
        return self.out_path.read_text()

    def get(self, path: str, token: str | None = None) -> tuple[int, Any]:
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}")
        if token is not None:
            request.add_header("Authorization", f"Token {token}")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, orjson.loads(response.read())
        except urllib.error.HTTPError as error:
            with error:
                return error.code, orjson.loads(error.read())
        except OSError:
            return 0, None

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            return self.process.wait(timeout=30)
        finally:
            self._log.close()
            self._out.close()
