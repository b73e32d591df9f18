"""Every `REQLOG_*` setting of the service and the exporter, declared once: name, kind, default, meaning.

The `Setting` type, the one set of parsers and `resolve` (arguments > `REQLOG_*` variables >
defaults) live in `instrumentation.settings_table`, beside the instrumentation's own entries, so
every package shares them. The settings classes take their fields from here (`field(name)` gives a
dataclass field its default and its entry), the README's configuration reference is generated from
`SETTINGS` (`python -m exporter.settings_table`, checked by `tests/test_docs.py`), and `reqlog`'s
`--help` texts come from `help_text`.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from instrumentation import settings_table as table
from instrumentation.settings_table import MIB, Setting
from instrumentation.settings_table import resolve as resolve  # the settings classes' one resolver

from .errors import ConfigError


def check_size(name: str, value: str) -> None:
    """Refuse a DuckDB size that is not a number with a unit, such as `512MB` or `1GiB`."""
    if not value or not value.rstrip("KMGTiBb").replace(".", "", 1).isdigit():
        raise ConfigError(name, f"expected a size such as 512MB, got {value!r}")


_REDACTION = "see docs/redaction.md for the entry syntax"
SETTINGS: dict[str, Setting] = {
    setting.name: setting
    for setting in (
        Setting("db", "path", Path("data/reqlog.duckdb"), "the DuckDB file (its directory is created)"),
        Setting("host", "text", "127.0.0.1", "the address to listen on"),
        Setting("port", "int", 8000, "the port to listen on"),
        Setting("accounts_db", "path", None, "accounts and hashed tokens (SQLite)",
                "`accounts.sqlite3` beside the DuckDB file", optional=True),
        Setting("memory_limit", "size", "1GB", "DuckDB's memory limit"),
        Setting("checkpoint_threshold", "size", "256MB", "WAL size that triggers a DuckDB checkpoint"),
        Setting("read_threads", "int", 4, "threads serving store reads"),
        Setting("recent_cache_bytes", "int", 64 * MIB, "cache of recently written rows, rendered; `0` turns it off"),
        Setting("warm_cache", "bool", True, "fill that cache with the newest rows at start"),
        Setting("warm_cache_seconds", "float", 5.0,
                "most seconds that start-up fill may take before the service answers (`0`: no limit)"),
        Setting("list_page_bytes", "int", 16 * MIB,
                "most row bytes in one list page (fewer rows and a `next` link past it)"),
        Setting("client_max_size", "int", 64 * MIB, "largest request body accepted"),
        Setting("access_log", "bool", False, "log every request"),
        Setting("account_refresh_interval", "float", 0.25, "seconds between checks for changed accounts and tokens"),
        Setting("sql_timeout", "float", 5.0, "seconds before an analyst query is interrupted"),
        Setting("sql_row_limit", "int", 10_000, "rows an analyst query may return"),
        Setting("sql_max_bytes", "int", 64 * MIB,
                "bytes of values an analyst query's answer may hold (cut and flagged `truncated` past it)"),
        Setting("sql_stall_timeout", "float", 30.0,
                "seconds an SQL download may go without its client reading before it is cut off and its slot freed"),
        Setting("retention_days", "int", None, "delete rows older than this many days, daily",
                "unset (keep all)", optional=True),
        Setting("ingest_max_bytes", "int", 128 * MIB, "largest OTLP request after decompression (413 past it)"),
        Setting("ingest_inflight_bytes", "int", 256 * MIB,
                "bytes of OTLP requests in flight at once (503 + `Retry-After` past it)"),
        Setting("ingest_max_body_bytes", "int", MIB,
                "longest body stored from OTLP; longer ones are cut and flagged truncated"),
        Setting("ingest_span_header_bytes", "int", 512 * 1024,
                "bytes of header attributes one OTLP span may bring; the rest are dropped and the "
                "header column flagged `reqlog.truncated`"),
        Setting("ingest_queue_rows", "int", 50_000, "rows waiting for the writer before OTLP gets 503"),
        Setting("ingest_batch_rows", "int", 10_000, "most rows committed in one transaction"),
        Setting("ingest_retry_after", "int", 1, "seconds in the `Retry-After` of a 503"),
        Setting("ingest_workers", "int", 1, "processes decoding OTLP (`0`: a thread)"),
        Setting("user_agents_cache_bytes", "int", 8 * MIB,
                "byte budget of the memo of user-agent classifications, in each decoding process "
                "(a memo that would pass its budget is emptied; `0` keeps one entry)"),
        Setting("content_types_cache_bytes", "int", 512 * 1024, "byte budget of the memo of content types"),
        Setting("header_names_cache_bytes", "int", MIB, "byte budget of the memo of header names"),
        Setting("header_keys_cache_bytes", "int", 4 * MIB,
                "byte budget of each table of header keys the C speedups read "
                "(all four shown in `/api/metrics/service`)"),
        Setting("metrics_networks", "list", (),
                "addresses and CIDRs that may read `GET /metrics` without a token (else permission 3601)", "none"),
        Setting("ready_stall_seconds", "float", 30.0,
                "`GET /readyz` answers 503 once one writer transaction has run this long"),
        Setting("ready_min_free_bytes", "int", 64 * MIB,
                "`GET /readyz` answers 503 below this much free space in the data directory"),
        Setting("redact_headers", "list", (), f"header entries to redact beyond the defaults ({_REDACTION})", "none"),
        Setting("unredact_headers", "list", (), "default header entries to turn off, or header names to exempt",
                "none"),
        Setting("redact_keys", "list", (), "body, response, form and query key entries to redact beyond the defaults",
                "none"),
        Setting("unredact_keys", "list", (), "default key entries to turn off, or key names to exempt", "none"),
        Setting("backend", "text", "duckdb",
                "`duckdb` (one file) or `ducklake` (many nodes on a DuckLake: docs/scale.md)"),
        Setting("role", "text", "all", "with `ducklake`: `writer`, `query`, `maintenance` or `all`"),
        Setting("lake_catalog", "text", "",
                "with `ducklake`: libpq connection string of the lake's PostgreSQL catalog "
                "(query nodes: a SELECT-only role)", "none"),
        Setting("lake_data", "text", "",
                "with `ducklake`: the directory (or object-store prefix) of the lake's Parquet files", "none"),
        Setting("lake_accounts", "text", "",
                "with `ducklake`: libpq connection string of the shared accounts database", "none"),
        Setting("lake_extension_repository", "text", "",
                "an extension repository (URL or directory) to install `ducklake` from, used first when set",
                "wheels, then DuckDB's"),
        Setting("lake_span_memory", "int", 200_000,
                "recent span keys a writer remembers to store a re-sent span once (~180 bytes each)"),
        Setting("lake_maintenance_interval", "float", 300.0, "seconds between the maintenance node's passes"),
        Setting("trace_url", "text", None,
                "the viewer's link to a tracing UI, an http(s) URL with `{trace_id}` (and optionally `{span_id}`)",
                "unset (no link)", optional=True),
        Setting("ui_secret", "text", None,
                "the key that signs the viewer's session cookies (at least 32 characters)",
                "a random key in `ui-secret` beside the DuckDB file", optional=True),
        Setting("ui_session_hours", "float", 12.0, "how long a viewer session lasts"),
    )
}  # fmt: skip

# Read by `reqlog sql/export/prune` only (with `REQLOG_TOKEN`, declared in `instrumentation.settings_table`).
CLIENT_SETTINGS: dict[str, Setting] = {
    "url": Setting("url", "text", None, "the service `reqlog sql/export/prune` ask, unless `--db` is given",
                   "none (the DuckDB file)", optional=True),
}  # fmt: skip


def field(name: str) -> Any:
    """A dataclass field for the setting `name`: its default, and the entry in its metadata."""
    return table.field(SETTINGS[name])


def help_text(name: str) -> str:
    """A command-line option's help: the meaning, then where its default comes from."""
    return table.help_text(SETTINGS[name])


def variables(names: Iterable[str]) -> str:
    """`REQLOG_A`, `REQLOG_B` and `REQLOG_C`: the variables of `names`, for a sentence."""
    return table.variables(SETTINGS[name] for name in names)


def markdown(names: Iterable[str]) -> str:
    """The configuration reference's table for the settings `names`, as the README holds it."""
    return table.markdown(SETTINGS[name] for name in names)


if __name__ == "__main__":
    print(markdown(SETTINGS), end="")
    print()
    print(table.markdown(CLIENT_SETTINGS.values()), end="")
