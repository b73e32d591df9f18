"""`reqlog serve` as a real process, and the account and token commands run beside it.

Covers the first-start admin token, credentials changed by another process honoured within one
second, and a graceful stop on SIGTERM / SIGINT that releases the database file.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from exporter.store import RequestLogStore
from query_api.accounts.db import AccountDB
from tests.hermetic import clean_environ
from tests.otlp_payloads import pb_request, pb_span

from .harness import TOKEN_LINE, Service, make_row, reqlog, seed

RULE = 1.0  # the API's promise: a credential change is honoured within one second


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def service(data_dir: Path) -> Iterator[Service]:
    db = data_dir / "reqlog.duckdb"
    seed(db, [make_row(0), make_row(1)])
    running = Service(db, data_dir.parent / "serve.log")
    yield running
    running.stop(signal.SIGKILL)


def _first_token(service: Service) -> str:
    found = TOKEN_LINE.findall(service.stdout())
    assert len(found) == 1, service.stdout()
    assert found[0] not in service.stderr()  # the log never holds the token
    return str(found[0])


def test_first_start_creates_an_admin_and_prints_its_token_once(service: Service) -> None:
    token = _first_token(service)
    status, page = service.get("/api/metrics/request_logs", token)
    assert status == 200 and [r["id"] for r in page["results"]] == [2, 1]
    assert service.stop() == 0
    again = Service(service.db, service.log_path.with_name("serve2.log"))
    try:
        assert TOKEN_LINE.findall(again.stdout()) == []  # accounts exist: no new admin, no token printed
        assert again.get("/api/metrics/request_logs/1", token)[0] == 200
    finally:
        assert again.stop() == 0


def test_account_and_token_commands_beside_a_running_service(service: Service) -> None:
    db = service.db
    reqlog("account", "create", "alice", "--full-name", "Alice A", "--staff", "--grant", "3601", db=db)
    reqlog("account", "create", "bob", "--staff", db=db)
    created = reqlog("token", "create", "alice", db=db)
    assert re.fullmatch(r"[0-9a-f]{40}\n", created.stdout), created.stdout
    alice = created.stdout.strip()
    bob = reqlog("token", "create", "bob", db=db).stdout.strip()
    time.sleep(RULE)
    assert service.get("/api/metrics/request_logs/1", alice)[0] == 200
    assert service.get("/api/metrics/request_logs/1", bob) == (
        403,
        {"detail": "You do not have permission to perform this action."},
    )

    reqlog("account", "create", "carl", "--grant", "3602", "3603", "--grant", "3601", db=db)
    listing = reqlog("account", "list", db=db).stdout
    assert re.search(r"alice\s+yes\s+yes\s+no\s+1\s+3601\s+Alice A", listing), listing
    assert re.search(r"carl\s+yes\s+no\s+no\s+0\s+3601,3602,3603", listing), listing
    assert "admin" in listing

    # Revoke by token: the service stops accepting it within a second.
    reqlog("token", "revoke", alice, db=db)
    time.sleep(RULE)
    assert service.get("/api/metrics/request_logs/1", alice) == (401, {"detail": "Invalid token."})

    # Deactivate: the account's other tokens stop working too.
    second = reqlog("token", "create", "alice", db=db).stdout.strip()
    time.sleep(RULE)
    assert service.get("/api/metrics/request_logs/1", second)[0] == 200
    reqlog("account", "deactivate", "alice", db=db)
    time.sleep(RULE)
    assert service.get("/api/metrics/request_logs/1", second) == (401, {"detail": "User inactive or deleted."})

    # Revoke by username: every token of that account.
    reqlog("token", "revoke", "bob", db=db)
    time.sleep(RULE)
    assert service.get("/api/metrics/request_logs/1", bob) == (401, {"detail": "Invalid token."})


def test_tokens_are_stored_hashed(service: Service) -> None:
    token = _first_token(service)
    accounts = (service.db.parent / "accounts.sqlite3").read_bytes()
    wal = service.db.parent / "accounts.sqlite3-wal"
    assert token.encode() not in accounts
    assert not wal.exists() or token.encode() not in wal.read_bytes()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_graceful_stop_releases_the_database(service: Service, sig: int) -> None:
    assert service.stop(sig) == 0
    assert "request-log store closed" in service.stderr()
    store = RequestLogStore(service.db)  # the file is free again: the service closed it
    try:
        assert store.count() == 2
    finally:
        store.close()


def _post(port: int, token: str, body: bytes) -> int:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/v1/traces",
        data=body,
        headers={"Authorization": f"Token {token}", "Content-Type": "application/x-protobuf"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        with error:
            return int(error.code)
    except OSError:
        return 0  # refused: the service had stopped accepting


def test_sigterm_keeps_every_acknowledged_span(service: Service) -> None:
    token = _first_token(service)
    batches = [
        pb_request(
            [
                pb_span(
                    {"http.request.method": "GET", "url.path": f"/p/{n}", "http.response.status_code": 200},
                    trace_id=n.to_bytes(16, "big"),
                    span_id=(n + 1).to_bytes(8, "big"),
                )
                for n in range(k * 10, k * 10 + 10)
            ]
        ).SerializeToString()
        for k in range(1, 61)
    ]
    with ThreadPoolExecutor(max_workers=8) as pool:
        futures = [pool.submit(_post, service.port, token, body) for body in batches]
        futures[0].result()  # at least one batch is in before the signal
        service.process.send_signal(signal.SIGTERM)
        statuses = [future.result() for future in futures]
    # Wait, rather than signal again: a second signal during shutdown means "stop now" to aiohttp.
    assert service.process.wait(timeout=60) == 0, service.stderr()
    service.stop()
    assert "request-log store closed" in service.stderr()
    acknowledged = 10 * statuses.count(200)
    assert acknowledged > 0 and set(statuses) <= {0, 200, 503}, statuses
    store = RequestLogStore(service.db)
    try:
        assert store.count() - 2 >= acknowledged  # two rows were seeded before the start
    finally:
        store.close()


def test_command_errors_exit_non_zero(data_dir: Path) -> None:
    db = data_dir / "reqlog.duckdb"
    AccountDB(data_dir / "accounts.sqlite3").close()  # token commands need an accounts database to exist
    done = subprocess.run(
        [sys.executable, "-m", "query_api.cli", "token", "create", "nobody", "--db", str(db)],
        capture_output=True,
        text=True,
        timeout=60,
        env=clean_environ(),
    )
    assert done.returncode == 2 and "no account named 'nobody'" in done.stderr and done.stdout == ""
