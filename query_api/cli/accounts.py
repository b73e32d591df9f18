"""`reqlog account ...` and `reqlog token ...`: who may use the API, managed from a terminal.

They open the SQLite accounts database beside the DuckDB file, so they work while `reqlog serve`
runs on the same data directory; the service sees each change within a second. Only `account create`
starts an accounts database (and its directory: accounts may be made before the first start). Every
other command needs one to exist and creates nothing: with a mistyped `--db` it says that none
exists there, instead of leaving an empty database behind.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from pathlib import Path
from typing import Any

from exporter.errors import ConfigError, RequestLogError
from query_api.accounts.db import Account, AccountDB
from query_api.accounts.pg import PgAccountDB
from query_api.accounts.pg import open_accounts as open_lake_or_file
from query_api.auth import PERM_INGEST, PERM_SQL, PERM_VIEW_LOGS
from query_api.settings import ServiceSettings
from query_api.ui import passwords

PERMISSIONS = {PERM_VIEW_LOGS: "read request logs", PERM_INGEST: "send spans (OTLP)", PERM_SQL: "run SQL, export"}
CODES_HELP = ", ".join(f"{code} {meaning}" for code, meaning in PERMISSIONS.items())


class NoAccountsDatabase(RequestLogError):
    """There is no accounts database (or no directory for one) where the command looked."""

    def __init__(self, path: Path, *, directory: bool = False) -> None:
        where = f"no directory {path.parent}" if directory else f"no accounts database at {path}"
        super().__init__(f"{where}: none exists there, and this command does not create one (is --db or "
                         "$REQLOG_DB right? `reqlog serve` creates both on its first start)")  # fmt: skip
        self.path = path


def open_accounts(args: argparse.Namespace, *, create: bool = False) -> AccountDB | PgAccountDB:
    """The accounts database of `--db` / `$REQLOG_DB`; only with `create` is one (and its directory) made.

    With the lake backend (`REQLOG_BACKEND=ducklake`) the accounts live in PostgreSQL (`REQLOG_LAKE_ACCOUNTS`).
    """
    settings = ServiceSettings.from_env(os.environ, db=getattr(args, "db", None))
    if settings.backend == "ducklake":
        return open_lake_or_file(settings)
    path = settings.accounts_path
    if not create and not path.parent.is_dir():
        raise NoAccountsDatabase(path, directory=True)
    if not create and not path.exists():
        raise NoAccountsDatabase(path)
    return AccountDB(path)


def permission_code(text: str) -> int:
    """An argparse type: a known permission code, else a message listing them."""
    try:
        code = int(text)
    except ValueError:
        code = -1
    if code not in PERMISSIONS:
        raise argparse.ArgumentTypeError(f"unknown permission {text!r}; the codes are: {CODES_HELP}")
    return code


def staff_hint(account: Account) -> str | None:
    """Why an account's 3601 does nothing: DRF's rule wants staff plus 3601 (admins need neither)."""
    if PERM_VIEW_LOGS in account.permissions and not account.is_staff and not account.is_superuser:
        return (
            f"reqlog: note: {account.username!r} holds {PERM_VIEW_LOGS} but is not staff, so it still cannot read "
            f"request logs (staff plus {PERM_VIEW_LOGS}, or an admin): `reqlog account grant {account.username} "
            f"{PERM_VIEW_LOGS} --staff` makes it staff"
        )
    return None


def cmd_account_create(args: argparse.Namespace) -> int:
    with open_accounts(args, create=True) as db:
        account = db.create_account(
            args.username,
            full_name=args.full_name,
            is_staff=args.staff or args.admin,
            is_superuser=args.admin,
            permissions=args.grant,
        )
    print(f"created account {account.username!r} (id {account.id})")
    _hint(account)
    return 0


def cmd_account_list(args: argparse.Namespace) -> int:
    with open_accounts(args) as db:
        rows = db.list_accounts()
    print(f"{'id':>4}  {'username':<20} {'active':<6} {'staff':<5} {'admin':<5} {'tokens':>6}  permissions  full name")
    for account, tokens in rows:
        permissions = ",".join(str(code) for code in sorted(account.permissions)) or "-"
        print(
            f"{account.id:>4}  {account.username:<20} {_yes(account.is_active):<6} {_yes(account.is_staff):<5} "
            f"{_yes(account.is_superuser):<5} {tokens:>6}  {permissions:<11}  {account.full_name}"
        )
    for account, _ in rows:
        _hint(account)
    return 0


def cmd_account_access(args: argparse.Namespace) -> int:
    """`account grant` and `account revoke`: permission codes, and the staff flag with `--staff`."""
    granting = args.action == "grant"
    staff = granting if args.staff else None  # --staff: made staff on grant, no longer staff on revoke
    with open_accounts(args) as db:
        account = db.update_access(
            args.username, grant=args.codes if granting else (), revoke=() if granting else args.codes, staff=staff
        )
    held = ",".join(str(code) for code in sorted(account.permissions)) or "none"
    print(f"{account.username!r}: permissions {held}; staff {_yes(account.is_staff)}", file=sys.stderr)
    _hint(account)
    return 0


def cmd_account_active(args: argparse.Namespace) -> int:
    """`account deactivate` (its tokens stop working) and `account reactivate` (they work again)."""
    active = args.action == "reactivate"
    with open_accounts(args) as db:
        db.set_active(args.username, active)
    print(f"{'reactivated' if active else 'deactivated'} {args.username!r}", file=sys.stderr)
    return 0


def cmd_account_password(args: argparse.Namespace) -> int:
    """Set the viewer password of an account: typed twice on a terminal, else the first line of stdin."""
    if sys.stdin.isatty():
        password = getpass.getpass(f"password for {args.username}: ")
        if getpass.getpass("again: ") != password:
            raise ConfigError("password", "the two passwords differ")
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    problem = passwords.check_new_password(password)
    if problem is not None:
        raise ConfigError("password", problem)
    with open_accounts(args) as db:
        db.set_password(args.username, passwords.hash_password(password))
    print(f"password set for {args.username!r}", file=sys.stderr)
    return 0


def cmd_token_create(args: argparse.Namespace) -> int:
    with open_accounts(args) as db:
        key = db.create_token(args.username)
    print(key)  # alone on stdout, so `TOKEN=$(reqlog token create alice)` works
    return 0


def cmd_token_list(args: argparse.Namespace) -> int:
    with open_accounts(args) as db:
        tokens = [info for info in db.list_tokens() if args.username in (None, info.username)]
    print(f"{'user':<20} {'prefix':<11} {'created':<20} last used")
    for info in tokens:
        prefix = f"{info.prefix}..." if info.prefix else "(unknown)"
        print(
            f"{info.username:<20} {prefix:<11} {_minute(info.created_at):<20} {_minute(info.last_used_at) or 'never'}"
        )
    return 0


def cmd_token_revoke(args: argparse.Namespace) -> int:
    with open_accounts(args) as db:
        count = db.revoke(args.token_or_username)
    print(f"revoked {count} token{'s' if count != 1 else ''}", file=sys.stderr)
    return 0


def _hint(account: Account) -> None:
    hint = staff_hint(account)
    if hint is not None:
        print(hint, file=sys.stderr)


def _minute(stamp: str | None) -> str:
    """`2026-12-06T19:40:12.5+00:00` -> `2026-12-06 19:40 UTC` (the times are stored in UTC)."""
    return "" if not stamp else stamp[:16].replace("T", " ") + " UTC"


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def add_commands(commands: argparse._SubParsersAction[Any]) -> None:
    """Add `account ...` and `token ...` to the `reqlog` parser."""
    account = commands.add_parser("account", help="manage accounts").add_subparsers(dest="action", required=True)
    create = account.add_parser("create", help="create an account")
    create.add_argument("username")
    create.add_argument("--full-name", default="")
    create.add_argument("--staff", action="store_true", help="a staff account (needed for request logs)")
    create.add_argument("--admin", action="store_true", help="an admin: every permission")
    create.add_argument("--grant", type=permission_code, action="extend", nargs="+", default=[], metavar="CODE",
                        help=f"permission codes: {CODES_HELP}")  # fmt: skip
    create.set_defaults(func=cmd_account_create)
    subs = [create, account.add_parser("list", help="list accounts (creates nothing)")]
    subs[-1].set_defaults(func=cmd_account_list)
    for action, text in (("grant", "give an account permissions"), ("revoke", "take permissions away")):
        sub = account.add_parser(action, help=text)
        sub.add_argument("username")
        sub.add_argument("codes", type=permission_code, nargs="+", metavar="CODE", help=CODES_HELP)
        sub.add_argument(
            "--staff", action="store_true", help=f"also {'make it' if action == 'grant' else 'remove'} staff"
        )
        sub.set_defaults(func=cmd_account_access)
        subs.append(sub)
    for action, text in (("deactivate", "its tokens stop working"), ("reactivate", "its tokens work again")):
        sub = account.add_parser(action, help=f"{action} an account ({text})")
        sub.add_argument("username")
        sub.set_defaults(func=cmd_account_active)
        subs.append(sub)
    password = account.add_parser("password", help="set the password that signs the account in to the viewer")
    password.add_argument("username")
    password.set_defaults(func=cmd_account_password)
    subs.append(password)

    token = commands.add_parser("token", help="manage API tokens").add_subparsers(dest="action", required=True)
    token_create = token.add_parser("create", help="create a token and print it")
    token_create.add_argument("username")
    token_create.set_defaults(func=cmd_token_create)
    listing = token.add_parser("list", help="list tokens: user, prefix, created, last used (never the token)")
    listing.add_argument("username", nargs="?", help="only this account's tokens")
    listing.set_defaults(func=cmd_token_list)
    revoke = token.add_parser("revoke", help="revoke a token, or every token of an account")
    revoke.add_argument("token_or_username", metavar="TOKEN|USERNAME")
    revoke.set_defaults(func=cmd_token_revoke)
    for sub in (*subs, token_create, listing, revoke):
        sub.add_argument("--db", help="the DuckDB file (default: $REQLOG_DB or ./data/reqlog.duckdb)")
