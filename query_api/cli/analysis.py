"""`reqlog sql`, `reqlog export` and `reqlog prune`: analysis from a terminal.

Each works two ways. With `--url` (or `$REQLOG_URL`) and a token (`--token` or `$REQLOG_TOKEN`)
it goes through the running service. Without, it opens the database file itself, which DuckDB
allows only while no other process holds it: when the service holds it, the command says so and
prints the `--url` form that works. A local `sql` opens the file read-only, with the same sandbox
as the service. An explicit `--db` wins over `$REQLOG_URL` (a variable left in a shell must never
send a `prune` meant for one file to another database); `--db` and `--url` together are refused.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from exporter.errors import RequestLogError, SqlError
from exporter.log_store import PrunePreview
from exporter.settings_table import CLIENT_SETTINGS, help_text
from exporter.store_housekeeping import compact
from instrumentation import settings_table as table
from query_api.cli import remote, service_file
from query_api.cli.local_db import DatabaseBusy, open_local
from query_api.housekeeping.export import export_from, parse_bound, write_parquet
from query_api.housekeeping.retention import UNITS_HELP, cutoff_for, parse_age
from query_api.settings import ServiceSettings
from query_api.sql.budget import DEFAULT_BYTE_LIMIT
from query_api.sql.output import format_csv, format_json, format_table
from query_api.sql.sandbox import DEFAULT_ROW_LIMIT, DEFAULT_TIMEOUT, run_sql

_URL, _TOKEN = CLIENT_SETTINGS["url"], table.SETTINGS["token"]


def add_commands(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add `sql`, `export` and `prune` to the `reqlog` parser."""
    sql = subparsers.add_parser("sql", help="run one read-only SQL query (file or service)")
    sql.add_argument("query", help='the SQL, e.g. "SELECT * FROM route_latency"; "-" reads it from stdin')
    sql.add_argument("--format", choices=("table", "csv", "json"), default="table", help="output (default: table)")
    sql.add_argument(
        "--csv-raw",
        action="store_true",
        help="CSV for programs: keep cells starting with = + - @ as they are (default: neutralised for spreadsheets)",
    )
    sql.add_argument("--max-rows", type=int, default=DEFAULT_ROW_LIMIT, help="row cap for a local query")
    sql.add_argument(
        "--max-bytes", type=int, default=DEFAULT_BYTE_LIMIT, help="cap on the bytes of values a local query returns"
    )
    sql.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, help="local time limit, s (0: none)")
    _access_options(sql)
    sql.set_defaults(func=cmd_sql)

    export = subparsers.add_parser("export", help="write request logs as Parquet, partitioned by day")
    export.add_argument("--out", required=True, type=Path, help="directory for date=YYYY-MM-DD/part-0.parquet")
    export.add_argument("--since", help="first day (YYYY-MM-DD) or moment (ISO 8601) to include")
    export.add_argument("--until", help="last day to include (YYYY-MM-DD), or a moment to stop before")
    _access_options(export)
    export.set_defaults(func=cmd_export)

    prune_cmd = subparsers.add_parser("prune", help="delete request logs older than an age")
    prune_cmd.add_argument("--older-than", required=True, type=_age, help=f"an age such as 30d; units: {UNITS_HELP}")
    prune_cmd.add_argument(
        "--dry-run", action="store_true", help="say what would go (rows, date range), delete nothing"
    )
    prune_cmd.add_argument("--yes", action="store_true", help="do not ask for confirmation (needed off a terminal)")
    prune_cmd.add_argument("--compact", action="store_true", help="then rewrite the file smaller (local only)")
    _access_options(prune_cmd)
    prune_cmd.set_defaults(func=cmd_prune)


def _access_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", help=help_text("db"))
    parser.add_argument("--url", help=f"{table.help_text(_URL)}, e.g. http://127.0.0.1:8000")
    parser.add_argument("--token", default=os.environ.get(_TOKEN.variable), help=f"API token (or ${_TOKEN.variable})")


def _resolve_target(args: argparse.Namespace) -> None:
    """Settle `args.url`: explicit `--url`, else `$REQLOG_URL` unless `--db` was given; `None` means the file."""
    if args.url and args.db:
        raise UsageError("give either --db (the file) or --url (the service), not both")
    if not args.url and not args.db:
        args.url = os.environ.get(_URL.variable) or None


class UsageError(RequestLogError):
    """The command line asks for something contradictory or unsafe; exit status 2."""


def _age(text: str) -> str:
    try:
        parse_age(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text.strip()


def _db_path(args: argparse.Namespace) -> Path:
    return ServiceSettings.from_env(os.environ, db=args.db).db


def _busy(args: argparse.Namespace, exc: DatabaseBusy, command: str) -> int:
    # The service records its real address beside the file; else guess from the environment.
    settings = ServiceSettings.from_env(os.environ)
    recorded = service_file.read(exc.path, pid=exc.pid) if exc.pid else None
    url = args.url or recorded or f"http://{settings.host}:{settings.port}"
    print(
        f"reqlog: {exc.path} is held by another process{f' (PID {exc.pid})' if exc.pid else ''}, most likely a "
        f"running `reqlog serve`.\nDuckDB lets only one process open the file, so go through the service:\n"
        f"  reqlog {command} --url {url} --token $REQLOG_TOKEN",
        file=sys.stderr,
    )
    return 1


# -- reqlog sql ------------------------------------------------------------------------------


def cmd_sql(args: argparse.Namespace) -> int:
    _resolve_target(args)
    query = sys.stdin.read() if args.query == "-" else args.query
    try:
        if args.url:
            answer = remote.sql(args.url, _token(args), query)
        else:
            with open_local(_db_path(args), read_only=True) as store:
                answer = orjson.loads(
                    run_sql(
                        store.cursor(), query, timeout=args.timeout, row_limit=args.max_rows, byte_limit=args.max_bytes
                    ).to_json()
                )
    except DatabaseBusy as exc:
        return _busy(args, exc, f"sql {_quote(query)}")
    except (SqlError, remote.RemoteError) as exc:
        print(f"reqlog: {exc}", file=sys.stderr)
        return 1
    columns, rows = answer["columns"], answer["rows"]
    if args.format == "json":
        sys.stdout.write(format_json(answer))
    elif args.format == "csv":
        sys.stdout.write(format_csv(columns, rows, spreadsheet_safe=not args.csv_raw))
    else:
        sys.stdout.write(format_table(columns, rows, width=shutil.get_terminal_size((120, 24)).columns))
    if answer["truncated"]:
        print(
            f"reqlog: only the first {len(rows):,} rows are shown (the row cap); add a LIMIT or aggregate",
            file=sys.stderr,
        )
    return 0


def _token(args: argparse.Namespace) -> str:
    if not args.token:
        raise remote.RemoteError("a token is needed with --url: pass --token or set $REQLOG_TOKEN")
    return str(args.token)


def _quote(query: str) -> str:
    return '"' + query.replace('"', '\\"') + '"'


# -- reqlog export ---------------------------------------------------------------------------


def cmd_export(args: argparse.Namespace) -> int:
    _resolve_target(args)
    try:
        since, until = parse_bound(args.since), parse_bound(args.until, end=True)
    except ValueError as exc:
        print(f"reqlog: --since/--until: {exc}", file=sys.stderr)
        return 2
    bar = ProgressBar(sys.stderr)
    try:
        if args.url:
            total, batches, close = remote.export_stream(args.url, _token(args), args.since, args.until)
            try:
                summary = write_parquet(batches, args.out, progress=lambda done: bar.update(done, total))
            finally:
                close()
        else:
            with open_local(_db_path(args), read_only=True) as store:
                summary = export_from(store, args.out, since=since, until=until, progress=bar.update)
    except DatabaseBusy as exc:
        bounds = "".join(f" --{n} {v}" for n, v in (("since", args.since), ("until", args.until)) if v)
        return _busy(args, exc, f"export --out {args.out}{bounds}")
    except remote.RemoteError as exc:
        print(f"reqlog: {exc}", file=sys.stderr)
        return 1
    finally:
        bar.done()
    print(f"exported {summary.rows:,} rows into {len(summary.files)} day file(s) under {args.out}", file=sys.stderr)
    return 0


class ProgressBar:
    """A one-line bar on a terminal (`stream` a TTY); silent otherwise, so logs and pipes stay clean."""

    def __init__(self, stream: Any, *, width: int = 30) -> None:
        self.stream = stream
        self.width = width
        self.enabled = bool(getattr(stream, "isatty", lambda: False)())
        self._shown = False

    def update(self, done: int, total: int) -> None:
        if not self.enabled:
            return
        share = done / total if total else 1.0
        filled = round(self.width * share)
        self.stream.write(f"\r[{'#' * filled}{'.' * (self.width - filled)}] {share:4.0%} {done:,}/{total:,} rows")
        self.stream.flush()
        self._shown = True

    def done(self) -> None:
        if self._shown:
            self.stream.write("\n")
            self.stream.flush()


# -- reqlog prune ----------------------------------------------------------------------------


def cmd_prune(args: argparse.Namespace) -> int:
    _resolve_target(args)
    cutoff = cutoff_for(parse_age(args.older_than))
    try:
        if args.url:
            if args.compact:
                raise remote.RemoteError("--compact works on the file only (stop the service first)")
            token = _token(args)
            planned = _remote_preview(remote.prune(args.url, token, args.older_than, dry_run=True))
            if not _go_ahead(args, planned, f"the service at {args.url}"):
                return 0 if args.dry_run else 2
            result = remote.prune(args.url, token, args.older_than)
            print(f"deleted {result['deleted']:,} rows that started before {result['cutoff']}", file=sys.stderr)
            return 0
        path = _db_path(args)
        with open_local(path, read_only=True) as store:
            planned = store.preview_prune(cutoff)
        if not _go_ahead(args, planned, str(path)):
            return 0 if args.dry_run else 2
        with open_local(path, read_only=False) as store:
            outcome = store.prune(planned.cutoff)
        print(f"deleted {outcome.deleted:,} rows that started before {cutoff.isoformat()}Z", file=sys.stderr)
        if args.compact:
            before, after = compact(path)
            print(f"compacted {path}: {before:,} -> {after:,} bytes", file=sys.stderr)
    except DatabaseBusy as exc:
        return _busy(args, exc, f"prune --older-than {args.older_than}")
    except (remote.RemoteError, RequestLogError) as exc:
        print(f"reqlog: {exc}", file=sys.stderr)
        return 1
    return 0


def _go_ahead(args: argparse.Namespace, planned: PrunePreview, where: str) -> bool:
    """Say what the prune deletes; True when it may go on (`--yes`, or a "y" typed on a terminal)."""
    if args.dry_run:
        print(f"would delete {planned.describe()} from {where}", file=sys.stderr)
        return False
    if planned.count == 0 or args.yes:
        return True
    if not sys.stdin.isatty():
        print(
            f"reqlog: prune would delete {planned.describe()} from {where}; standard input is not a terminal, "
            "so nobody can confirm: add --yes to delete, or --dry-run to only look",
            file=sys.stderr,
        )
        return False
    sys.stderr.write(f"Delete {planned.describe()} from {where}? [y/N] ")
    sys.stderr.flush()
    if sys.stdin.readline().strip().lower() in ("y", "yes"):
        return True
    print("nothing deleted", file=sys.stderr)
    return False


def _remote_preview(answer: dict[str, Any]) -> PrunePreview:
    def moment(value: Any) -> datetime | None:
        return None if value is None else datetime.fromisoformat(str(value).removesuffix("Z"))

    cutoff = moment(answer["cutoff"])
    assert cutoff is not None
    return PrunePreview(
        cutoff=cutoff,
        count=int(answer["would_delete"]),
        oldest=moment(answer["oldest"]),
        newest=moment(answer["newest"]),
    )
