"""The account commands on the lake's PostgreSQL accounts: password, grant/revoke, token list, sign-in."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from query_api.accounts.pg import PgAccountDB
from query_api.auth import PERM_SQL, PERM_VIEW_LOGS
from query_api.settings import ServiceSettings
from query_api.ui.signin import _check_password
from tests.hermetic import clean_environ

from .conftest import Lake


def _lake_env(lake: Lake) -> dict[str, str]:
    return {
        "REQLOG_BACKEND": "ducklake",
        "REQLOG_LAKE_CATALOG": lake.dsn("reqlog_writer"),
        "REQLOG_LAKE_DATA": str(lake.data),
        "REQLOG_LAKE_ACCOUNTS": lake.accounts(),
    }


def _reqlog(lake: Lake, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from query_api.entry import main; raise SystemExit(main())", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=clean_environ(_lake_env(lake)),
        timeout=60,
        check=False,
    )


def test_password_grant_and_token_list_work_on_the_lake_accounts(lake: Lake, tmp_path: Path) -> None:
    with PgAccountDB(lake.accounts()) as accounts:
        accounts.create_account("alice")

    done = _reqlog(lake, "account", "password", "alice", stdin="correct horse battery staple\n")
    assert done.returncode == 0, done.stderr
    done = _reqlog(lake, "account", "grant", "alice", str(PERM_VIEW_LOGS), str(PERM_SQL))
    assert done.returncode == 0, done.stderr
    done = _reqlog(lake, "account", "revoke", "alice", str(PERM_SQL))
    assert done.returncode == 0, done.stderr
    token = _reqlog(lake, "token", "create", "alice").stdout.strip()
    listed = _reqlog(lake, "token", "list")
    assert listed.returncode == 0, listed.stderr

    with PgAccountDB(lake.accounts()) as accounts:
        found = accounts.password_hash("alice")
        assert found is not None and found[1] is not None and "correct horse" not in found[1]
        assert found[0].permissions == frozenset({PERM_VIEW_LOGS})
    line = next(line for line in listed.stdout.splitlines() if line.startswith("alice"))
    assert f"{token[:8]}..." in line and token not in listed.stdout  # a prefix, never the token

    # The viewer's sign-in reads the same PostgreSQL accounts.
    settings = ServiceSettings.from_env(clean_environ(_lake_env(lake)))
    signed_in = _check_password(settings, "alice", "correct horse battery staple")
    assert signed_in is not None and signed_in.username == "alice"
    assert _check_password(settings, "alice", "wrong horse battery staple") is None
    assert _check_password(settings, "nobody", "correct horse battery staple") is None
