"""The `reqlog` command: `serve`, `account ...`, `token ...` (plus `analysis` and `demo`).

Account and token commands open the SQLite accounts database beside the DuckDB file, so they work
while `reqlog serve` runs on the same data directory; the service sees each change within a second.
Only this module (an entry point) reads `os.environ`.
"""

from __future__ import annotations

import argparse
import getpass
import logging
import os
import sys
from collections.abc import Sequence
from typing import Any

from exporter.errors import ConfigError, RequestLogError, StorageError
from exporter.settings_table import help_text
from query_api.accounts.db import AccountDB
from query_api.auth import PERM_INGEST, PERM_SQL, PERM_VIEW_LOGS
from query_api.cli import analysis as sql_cli
from query_api.cli import demo, service_file
from query_api.settings import ServiceSettings
from query_api.ui import passwords

logger = logging.getLogger("reqlog")
FIRST_ADMIN = "admin"


def _settings(args: argparse.Namespace, **overrides: Any) -> ServiceSettings:
    return ServiceSettings.from_env(os.environ, db=getattr(args, "db", None), **overrides)


def _db_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", help=help_text("db"))


def ensure_first_admin(settings: ServiceSettings) -> str | None:
    """With no accounts yet, create the admin account and return its token (else `None`)."""
    with AccountDB(settings.accounts_path) as db:
        if db.count():
            return None
        db.create_account(FIRST_ADMIN, full_name="Administrator", is_staff=True, is_superuser=True)
        return db.create_token(FIRST_ADMIN)


def _first_start_message(token: str, url: str) -> str:
    """The admin token, shown this once, and the next three things to try."""
    auth = f'-H "Authorization: Token {token}"'
    return (
        f"reqlog: created the account {FIRST_ADMIN!r} (admin). Its API token, shown only this once:\n"
        f"  {token}\n"
        "Next, in another terminal:\n"
        f"  1. run an instrumented app: REQLOG_ENDPOINT={url} REQLOG_TOKEN={token} .venv/bin/python -m "
        "examples.starlette_app\n     and call it: curl http://127.0.0.1:8001/   (its logs arrive within 5 s)\n"
        f"  2. list the request logs: curl {auth} {url}/api/metrics/request_logs\n"
        f"  3. ask with SQL:          curl {auth} {url}/api/metrics/sql -H 'Content-Type: application/json' "
        """-d '{"sql": "SELECT method, endpoint, status_code, duration FROM request_logs LIMIT 5"}'\n"""
        "(`make demo` shows it all at once on a throwaway database.)"
    )


def cmd_serve(args: argparse.Namespace) -> int:
    from aiohttp import web

    from query_api.app import create_app
    from query_api.ui.settings import UiSettings

    overrides: dict[str, Any] = {"host": args.host, "port": args.port}
    if args.retention_days is not None:
        overrides["retention_days"] = args.retention_days
    settings = _settings(args, **overrides)
    token = ensure_first_admin(settings)
    if token is not None:
        # On stdout, never through logging: the log (stderr) is often collected and kept, stdout is the
        # terminal of whoever started the service.
        print(_first_start_message(token, f"http://{settings.host}:{settings.port}"), flush=True)
    else:
        print(f"reqlog: accounts exist; `reqlog token create {FIRST_ADMIN}` makes a new token", file=sys.stderr)
    app = create_app(settings, UiSettings.from_env(os.environ))

    url = f"http://{settings.host}:{settings.port}"

    async def announce(app: web.Application) -> None:
        # After the cleanup contexts' start (they run first): the file is open, so this is true.
        service_file.write(settings.db, url)
        print(f"reqlog: serving {settings.db} on {url}", file=sys.stderr, flush=True)

    async def forget(app: web.Application) -> None:
        service_file.remove(settings.db)

    app.on_startup.append(announce)
    app.on_cleanup.append(forget)
    # run_app handles SIGINT/SIGTERM: it stops accepting, lets in-flight requests finish, then runs
    # the cleanup contexts (writer flush, then store close).
    web.run_app(
        app,
        host=settings.host,
        port=settings.port,
        access_log=logging.getLogger("aiohttp.access") if settings.access_log else None,
        print=None,
        shutdown_timeout=10.0,
    )
    return 0


def cmd_account_create(args: argparse.Namespace) -> int:
    with AccountDB(_settings(args).accounts_path) as db:
        account = db.create_account(
            args.username,
            full_name=args.full_name,
            is_staff=args.staff or args.admin,
            is_superuser=args.admin,
            permissions=args.grant,
        )
    print(f"created account {account.username!r} (id {account.id})")
    return 0


def cmd_account_list(args: argparse.Namespace) -> int:
    with AccountDB(_settings(args).accounts_path) as db:
        rows = db.list_accounts()
    print(f"{'id':>4}  {'username':<20} {'active':<6} {'staff':<5} {'admin':<5} {'tokens':>6}  permissions  full name")
    for account, tokens in rows:
        permissions = ",".join(str(code) for code in sorted(account.permissions)) or "-"
        print(
            f"{account.id:>4}  {account.username:<20} {_yes(account.is_active):<6} {_yes(account.is_staff):<5} "
            f"{_yes(account.is_superuser):<5} {tokens:>6}  {permissions:<11}  {account.full_name}"
        )
    return 0


def cmd_account_deactivate(args: argparse.Namespace) -> int:
    with AccountDB(_settings(args).accounts_path) as db:
        db.set_active(args.username, False)
    print(f"deactivated {args.username!r}", file=sys.stderr)
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
    with AccountDB(_settings(args).accounts_path) as db:
        db.set_password(args.username, passwords.hash_password(password))
    print(f"password set for {args.username!r}", file=sys.stderr)
    return 0


def cmd_token_create(args: argparse.Namespace) -> int:
    with AccountDB(_settings(args).accounts_path) as db:
        key = db.create_token(args.username)
    print(key)  # alone on stdout, so `TOKEN=$(reqlog token create alice)` works
    return 0


def cmd_token_revoke(args: argparse.Namespace) -> int:
    with AccountDB(_settings(args).accounts_path) as db:
        count = db.revoke(args.token_or_username)
    print(f"revoked {count} token{'s' if count != 1 else ''}", file=sys.stderr)
    return 0


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="reqlog", description="Request logs: serve, manage access, analyse.")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the service (API, OTLP ingest, SQL)")
    _db_option(serve)
    serve.add_argument("--host", help=help_text("host"))
    serve.add_argument("--port", type=int, help=help_text("port"))
    serve.add_argument("--retention-days", type=int, help=help_text("retention_days"))
    serve.set_defaults(func=cmd_serve)

    account = commands.add_parser("account", help="manage accounts").add_subparsers(dest="action", required=True)
    create = account.add_parser("create", help="create an account")
    create.add_argument("username")
    create.add_argument("--full-name", default="")
    create.add_argument("--staff", action="store_true", help="a staff account (needed for request logs)")
    create.add_argument("--admin", action="store_true", help="an admin: every permission")
    create.add_argument(
        "--grant",
        type=int,
        action="extend",
        nargs="+",
        default=[],
        metavar="CODE",
        help=f"permission codes: {PERM_VIEW_LOGS} request logs, {PERM_INGEST} ingest, {PERM_SQL} SQL",
    )
    create.set_defaults(func=cmd_account_create)
    listing = account.add_parser("list", help="list accounts")
    listing.set_defaults(func=cmd_account_list)
    deactivate = account.add_parser("deactivate", help="deactivate an account (its tokens stop working)")
    deactivate.add_argument("username")
    deactivate.set_defaults(func=cmd_account_deactivate)
    password = account.add_parser("password", help="set the password that signs the account in to the viewer")
    password.add_argument("username")
    password.set_defaults(func=cmd_account_password)
    for sub in (create, listing, deactivate, password):
        _db_option(sub)

    token = commands.add_parser("token", help="manage API tokens").add_subparsers(dest="action", required=True)
    token_create = token.add_parser("create", help="create a token and print it")
    token_create.add_argument("username")
    token_create.set_defaults(func=cmd_token_create)
    revoke = token.add_parser("revoke", help="revoke a token, or every token of an account")
    revoke.add_argument("token_or_username", metavar="TOKEN|USERNAME")
    revoke.set_defaults(func=cmd_token_revoke)
    for sub in (token_create, revoke):
        _db_option(sub)

    sql_cli.add_commands(commands)
    demo.add_command(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `reqlog` console script; returns the exit status."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # Request logs and the accounts database hold secrets: every file reqlog creates (the DuckDB file,
    # its WAL, which DuckDB creates later, the accounts database, the service file, exports) is readable
    # by its owner only, and every directory it creates 0700. A umask covers files made by DuckDB and
    # SQLite, which take no mode.
    os.umask(0o077)
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (ConfigError, sql_cli.UsageError) as exc:
        print(f"reqlog: error: {exc}", file=sys.stderr)
        return 2
    except (StorageError, RequestLogError) as exc:
        print(f"reqlog: error: {exc}", file=sys.stderr)
        return 1
