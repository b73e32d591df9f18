"""`reqlog account ...` and `reqlog token ...` complete: grant, revoke, reactivate, token list, known codes,
the 3601-without-staff hint, and read-only commands that create nothing, against a live service."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from query_api import ServiceSettings
from query_api.accounts.db import AccountDB
from query_api.cli import main
from tests.query_api.harness import Tokens, auth

BOUND = 200  # polls of 25 ms: the service takes a change within its 0.25 s refresh


def _reqlog(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    status = main(list(args))
    out, err = capsys.readouterr()
    return status, out, err


async def _until(client: TestClient[Any, Any], token: str, status: int) -> None:
    for _ in range(BOUND):
        response = await client.get("/api/metrics/request_logs", headers=auth(token))
        if response.status == status:
            return
        await asyncio.sleep(0.025)
    raise AssertionError(f"never {status}, last {response.status}")


async def test_grant_revoke_reactivate_with_the_staff_hint(
    api_client: TestClient[Any, Any], settings: ServiceSettings, capsys: pytest.CaptureFixture[str]
) -> None:
    db = str(settings.db)
    status, out, err = _reqlog(capsys, "account", "create", "zoe", "--grant", "3601", "--db", db)
    assert status == 0 and "created account 'zoe'" in out
    assert "'zoe' holds 3601 but is not staff" in err and "reqlog account grant zoe 3601 --staff" in err
    token = _reqlog(capsys, "token", "create", "zoe", "--db", db)[1].strip()
    await _until(api_client, token, 403)  # DRF's rule: 3601 alone is not enough
    assert "'zoe' holds 3601 but is not staff" in _reqlog(capsys, "account", "list", "--db", db)[2]

    status, _, err = _reqlog(capsys, "account", "grant", "zoe", "3601", "3603", "--staff", "--db", db)
    assert status == 0 and "'zoe': permissions 3601,3603; staff yes" in err and "note" not in err
    await _until(api_client, token, 200)
    status, _, err = _reqlog(capsys, "account", "revoke", "zoe", "3601", "--db", db)
    assert status == 0 and "'zoe': permissions 3603; staff yes" in err
    await _until(api_client, token, 403)
    _reqlog(capsys, "account", "grant", "zoe", "3601", "--db", db)
    await _until(api_client, token, 200)

    assert _reqlog(capsys, "account", "deactivate", "zoe", "--db", db)[0] == 0
    await _until(api_client, token, 401)
    status, _, err = _reqlog(capsys, "account", "reactivate", "zoe", "--db", db)
    assert status == 0 and "reactivated 'zoe'" in err
    await _until(api_client, token, 200)  # the same token works again


async def test_token_list_shows_owner_prefix_and_use_never_the_token(
    api_client: TestClient[Any, Any], settings: ServiceSettings, tokens: Tokens, capsys: pytest.CaptureFixture[str]
) -> None:
    db = str(settings.db)
    fresh = _reqlog(capsys, "token", "create", "alice", "--db", db)[1].strip()
    assert (await api_client.get("/api/metrics/request_logs", headers=auth(fresh))).status == 200
    from query_api.keys import ACCOUNTS_KEY

    api_client.app[ACCOUNTS_KEY].flush_use()  # what the service's poller does every few seconds
    status, out, _ = _reqlog(capsys, "token", "list", "alice", "--db", db)
    assert status == 0
    lines = out.splitlines()
    assert lines[0].split() == ["user", "prefix", "created", "last", "used"]
    assert len(lines) == 3  # alice's token from the fixture and the new one
    used = [line for line in lines if line.split()[1] == f"{fresh[:8]}..."]
    assert len(used) == 1 and re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC\s+\d{4}-\d\d-\d\d \d\d:\d\d UTC$", used[0])
    assert any(line.endswith("never") for line in lines[1:])
    everything = _reqlog(capsys, "token", "list", "--db", db)[1]
    for secret in (fresh, tokens.admin, tokens.staff_viewer, tokens.ingest_only):
        assert secret not in everything and secret[:12] not in everything


def test_only_known_permission_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "reqlog.duckdb"
    for args in (["account", "create", "x", "--grant", "3604"], ["account", "grant", "x", "36O1"]):
        with pytest.raises(SystemExit) as stop:
            main([*args, "--db", str(db)])
        assert stop.value.code == 2
        err = capsys.readouterr().err
        assert "unknown permission" in err and "3601 read request logs" in err and "3603 run SQL" in err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "command",
    [["account", "list"], ["token", "list"], ["token", "create", "admin"], ["account", "grant", "a", "3601"],
     ["account", "reactivate", "a"], ["token", "revoke", "admin"]],
)  # fmt: skip
def test_a_mistyped_db_creates_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str], command: list[str]) -> None:
    typo = tmp_path / "dta" / "reqlog.duckdb"
    status, out, err = _reqlog(capsys, *command, "--db", str(typo))
    assert status == 1 and out == ""
    assert err.startswith(f"reqlog: error: no directory {typo.parent}: none exists there"), err
    assert list(tmp_path.iterdir()) == []


def test_read_only_commands_create_no_accounts_database(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "reqlog.duckdb"
    for command in (["account", "list"], ["token", "list"]):
        status, _, err = _reqlog(capsys, *command, "--db", str(db))
        assert status == 1 and f"no accounts database at {tmp_path / 'accounts.sqlite3'}" in err
    assert list(tmp_path.iterdir()) == []
    assert _reqlog(capsys, "account", "create", "first", "--db", str(db))[0] == 0  # create starts one
    status, _, err = _reqlog(capsys, "token", "create", "nobody", "--db", str(db))
    assert status == 2 and "no account named 'nobody'" in err
    with AccountDB(tmp_path / "accounts.sqlite3") as accounts:
        assert [account.username for account, _ in accounts.list_accounts()] == ["first"]
