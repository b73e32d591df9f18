"""`reqlog backup --out FILE`: a consistent copy of the request logs while the service runs.

Through the service (`--url` or `$REQLOG_URL`, a token with permission 3603 or an admin's): it
streams a snapshot of every row and this command writes them into a new database file
(`backup.write_backup`). Without a service, `--db` reads the file itself (DuckDB allows that only
while no service holds it). `--accounts-out` also copies the accounts database (`--accounts-db`, by
default the service's), which SQLite lets any process read while the service runs, with SQLite's
online backup.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from query_api.cli import remote
from query_api.cli.analysis import ProgressBar, _access_options, _busy, _resolve_target, _token
from query_api.cli.local_db import DatabaseBusy, open_local
from query_api.ops.backup import BackupError, backup_accounts, write_backup
from query_api.settings import ServiceSettings


def add_command(subparsers: argparse._SubParsersAction[Any]) -> None:
    backup = subparsers.add_parser("backup", help="copy the request logs into a new database file (service running)")
    backup.add_argument("--out", required=True, type=Path, help="the new DuckDB file (must not exist)")
    backup.add_argument("--accounts-out", type=Path, help="also copy the accounts database here")
    backup.add_argument(
        "--accounts-db",
        type=Path,
        help="the accounts database to copy (default: $REQLOG_ACCOUNTS_DB, or accounts.sqlite3 beside $REQLOG_DB)",
    )
    _access_options(backup)
    backup.set_defaults(func=cmd_backup)


def cmd_backup(args: argparse.Namespace) -> int:
    _resolve_target(args)
    bar = ProgressBar(sys.stderr)
    try:
        if args.url:
            total, batches, close = remote.export_stream(args.url, _token(args), None, None)
            try:
                summary = write_backup(batches, args.out, expected_rows=total, progress=lambda n: bar.update(n, total))
            finally:
                close()
        else:
            path = ServiceSettings.from_env(os.environ, db=args.db).db
            with open_local(path, read_only=True) as store:
                read = store.export_batches(None, None)
                try:
                    summary = write_backup(read.rows, args.out, expected_rows=read.total)
                finally:
                    read.close()
        print(f"backed up {summary.rows:,} rows into {summary.path} ({summary.size:,} bytes)", file=sys.stderr)
        if args.accounts_out is not None:
            accounts = args.accounts_db or ServiceSettings.from_env(os.environ, db=args.db).accounts_path
            size = backup_accounts(accounts, args.accounts_out)
            print(f"backed up the accounts into {args.accounts_out} ({size:,} bytes)", file=sys.stderr)
    except DatabaseBusy as exc:
        return _busy(args, exc, f"backup --out {args.out}")
    except (BackupError, remote.RemoteError) as exc:
        print(f"reqlog: {exc}", file=sys.stderr)
        return 1
    finally:
        bar.done()
    return 0
