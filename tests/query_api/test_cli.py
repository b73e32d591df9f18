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
from collections.abc import Iterator
from pathlib import Path

import pytest

from exporter.store import RequestLogStore

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
    found = TOKEN_LINE.findall(service.stderr())
    assert len(found) == 1, service.stderr()
    return str(found[0])


def test_first_start_creates_an_admin_and_prints_its_token_once(service: Service) -> None:
    token = _first_token(service)
    status, page = service.get("/api/metrics/request_logs", token)
    assert status == 200 and [r["id"] for r in page["results"]] == [2, 1]
    assert service.stop() == 0
    again = Service(service.db, service.log_path.with_name("serve2.log"))
    try:
        assert TOKEN_LINE.findall(again.stderr()) == []  # accounts exist: no new admin, no token printed
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


def test_command_errors_exit_non_zero(data_dir: Path) -> None:
    db = data_dir / "reqlog.duckdb"
    done = subprocess.run(
        [sys.executable, "-m", "query_api.cli", "token", "create", "nobody", "--db", str(db)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and "no account named 'nobody'" in done.stderr and done.stdout == ""
