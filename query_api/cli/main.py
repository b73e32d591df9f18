"""The `reqlog` command: the parser, `serve` and `main` (the groups: `accounts`, `analysis`, `demo`, backup).

`serve` binds its socket first (`ops.listen`), so a busy port is one line and exit 1, and logs one
line once it is ready. The command modules are entry points: they, and no library module, read
`os.environ`.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import logging
import os
import sys
from collections.abc import Sequence
from typing import Any

from exporter.errors import ConfigError, RequestLogError, StorageError
from exporter.settings_table import help_text
from query_api.accounts.pg import open_accounts
from query_api.cli import accounts as account_commands
from query_api.cli import analysis as sql_cli
from query_api.cli import demo, lake, service_file
from query_api.ops import backup_cli, listen
from query_api.settings import ServiceSettings

logger = logging.getLogger("reqlog")
FIRST_ADMIN = "admin"


def _settings(args: argparse.Namespace, **overrides: Any) -> ServiceSettings:
    return ServiceSettings.from_env(os.environ, db=getattr(args, "db", None), **overrides)


def _db_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", help=help_text("db"))


def ensure_first_admin(settings: ServiceSettings) -> str | None:
    """With no accounts yet, create the admin account and return its token (else `None`)."""
    with open_accounts(settings) as db:
        if db.count():
            return None
        try:
            db.create_account(FIRST_ADMIN, full_name="Administrator", is_staff=True, is_superuser=True)
        except ConfigError:
            return None  # another node of the lake created it at the same moment
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

    overrides: dict[str, Any] = {"host": args.host, "port": args.port, "backend": args.backend, "role": args.role}
    if args.retention_days is not None:
        overrides["retention_days"] = args.retention_days
    settings = _settings(args, **overrides)
    try:
        sock = listen.bind(settings.host, settings.port)  # first: a busy port fails before anything else
    except listen.CannotListen as exc:
        print(f"reqlog: error: {exc}", file=sys.stderr)
        return 1
    url = listen.url_of(sock, settings.host)
    token = ensure_first_admin(settings)
    if token is not None:
        # On stdout, never through logging: the log (stderr) is often collected and kept, stdout is the
        # terminal of whoever started the service.
        print(_first_start_message(token, url), flush=True)
    else:
        print(f"reqlog: accounts exist; `reqlog token create {FIRST_ADMIN}` makes a new token", file=sys.stderr)
    app = create_app(settings, UiSettings.from_env(os.environ))

    on_lake = settings.backend == "ducklake"

    async def announce(app: web.Application) -> None:
        # After the cleanup contexts' start (they run first) and the cache warm-up: the store is open,
        # the writer runs and the socket listens, so requests are answered from now on.
        if on_lake:
            print(
                f"reqlog: ready: {settings.role} node of the lake {settings.lake_data} on {url}",
                file=sys.stderr,
                flush=True,
            )
            return
        service_file.write(settings.db, url)
        print(f"reqlog: ready: serving {settings.db} on {url}", file=sys.stderr, flush=True)

    async def forget(app: web.Application) -> None:
        if not on_lake:
            service_file.remove(settings.db)

    app.on_startup.append(announce)
    app.on_cleanup.append(forget)
    # run_app handles SIGINT/SIGTERM: it stops accepting, lets in-flight requests finish, then runs
    # the cleanup contexts (writer flush, then store close).
    web.run_app(
        app,
        sock=sock,
        access_log=logging.getLogger("aiohttp.access") if settings.access_log else None,
        print=None,
        shutdown_timeout=10.0,
    )
    return 0


def version() -> str:
    """The installed release of reqlog (`unknown` when run from a checkout that was never installed)."""
    try:
        return importlib.metadata.version("reqlog")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="reqlog", description="Request logs: serve, manage access, analyse.")
    parser.add_argument("--version", action="version", version=f"reqlog {version()}")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the service (API, OTLP ingest, SQL)")
    _db_option(serve)
    serve.add_argument("--host", help=help_text("host"))
    serve.add_argument("--port", type=int, help=help_text("port"))
    serve.add_argument("--retention-days", type=int, help=help_text("retention_days"))
    serve.add_argument("--backend", choices=("duckdb", "ducklake"), help=help_text("backend"))
    serve.add_argument("--role", choices=("writer", "query", "maintenance", "all"), help=help_text("role"))
    serve.set_defaults(func=cmd_serve)

    account_commands.add_commands(commands)
    sql_cli.add_commands(commands)
    lake.add_commands(commands)
    backup_cli.add_command(commands)
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
