"""Every `REQLOG_*` setting of the service and the exporter, declared once: name, kind, default, meaning.

The settings classes take their fields from here (`field(name)` gives a dataclass field its default
and its entry), `resolve` reads arguments and `REQLOG_*` variables with the one set of parsers
below, the README's configuration reference is generated from `SETTINGS` (`python -m
exporter.settings_table`, checked by `tests/test_docs.py`), and `reqlog`'s `--help` texts come from
`help_text`. The instrumentation's options live in `instrumentation.options`.

Resolution order: an argument (not `None`) > the environment variable `REQLOG_<NAME>` > the default.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from .errors import ConfigError

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}
MIB = 1024 * 1024


def parse_bool(text: str) -> bool:
    lowered = text.lower()
    if lowered in _TRUE or lowered in _FALSE:
        return lowered in _TRUE
    raise ValueError(f"expected true or false, got {text!r}")


def parse_list(text: str) -> tuple[str, ...]:
    """Comma-separated entries, blanks dropped."""
    return tuple(part.strip() for part in text.split(",") if part.strip())


def check_size(name: str, value: str) -> None:
    """Refuse a DuckDB size that is not a number with a unit, such as `512MB` or `1GiB`."""
    if not value or not value.rstrip("KMGTiBb").replace(".", "", 1).isdigit():
        raise ConfigError(name, f"expected a size such as 512MB, got {value!r}")


# The one set of parsers: a variable's text (stripped) -> its value; `ValueError` says what is wrong.
PARSERS: dict[str, Callable[[str], Any]] = {
    "text": str,
    "size": str,  # checked by `check_size` with the other values
    "path": Path,
    "int": int,
    "float": float,
    "bool": parse_bool,
    "list": parse_list,
}


@dataclasses.dataclass(frozen=True, slots=True)
class Setting:
    """One setting: `REQLOG_<NAME>`, parsed as `kind`; `optional` ones take an empty variable as unset."""

    name: str
    kind: str
    default: Any
    meaning: str
    shown_default: str | None = None  # the README's default when the value itself says it badly
    optional: bool = False

    @property
    def variable(self) -> str:
        return f"REQLOG_{self.name.upper()}"

    def default_text(self) -> str:
        if self.shown_default is not None:
            return self.shown_default
        if isinstance(self.default, bool):
            return "`true`" if self.default else "`false`"
        if isinstance(self.default, float):
            return f"`{self.default:g}`"
        return f"`{self.default}`"

    def convert(self, label: str, value: Any) -> Any:
        """An argument or a variable's text as this setting's value; `ConfigError(label, ...)` if invalid."""
        if not isinstance(value, str):
            return tuple(value) if self.kind == "list" else value
        text = value.strip()
        if self.optional and text == "":
            return None
        try:
            return PARSERS[self.kind](text)
        except (TypeError, ValueError) as exc:
            raise ConfigError(label, f"invalid value {value!r}: {exc}") from exc


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
                "where `INSTALL ducklake` fetches extensions when no matching PyPI wheel is installed",
                "DuckDB's"),
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


def field(name: str) -> Any:
    """A dataclass field for the setting `name`: its default, and the entry in its metadata."""
    setting = SETTINGS[name]
    return dataclasses.field(default=setting.default, metadata={"setting": setting})


def resolve(cls: type, environ: Mapping[str, str], overrides: Mapping[str, Any], *, what: str) -> dict[str, Any]:
    """The values for the dataclass `cls` (fields made by `field`): arguments, then variables, then defaults.

    Raises `ConfigError` naming the setting for an unknown argument (`unknown {what} setting`), or
    naming the argument or the variable for a value that does not parse.
    """
    settings = {f.name: f.metadata["setting"] for f in dataclasses.fields(cls)}
    unknown = set(overrides) - set(settings)
    if unknown:
        raise ConfigError(sorted(unknown)[0], f"unknown {what} setting")
    values: dict[str, Any] = {}
    for name, setting in settings.items():
        if overrides.get(name) is not None:
            values[name] = setting.convert(name, overrides[name])
        elif setting.variable in environ:
            values[name] = setting.convert(setting.variable, environ[setting.variable])
    return values


def help_text(name: str) -> str:
    """A command-line option's help: the meaning, then where its default comes from."""
    setting = SETTINGS[name]
    default = setting.default_text().replace("`", "")
    return f"{setting.meaning} (default: ${setting.variable}, else {default})".replace("%", "%%")


def variables(names: Iterable[str]) -> str:
    """`REQLOG_A`, `REQLOG_B` and `REQLOG_C`: the variables of `names`, for a sentence."""
    listed = [f"`{SETTINGS[name].variable}`" for name in names]
    return ", ".join(listed[:-1]) + " and " + listed[-1] if len(listed) > 1 else "".join(listed)


def markdown(names: Iterable[str]) -> str:
    """The configuration reference's table for the settings `names`, as the README holds it."""
    lines = ["| Variable | Default | Meaning |", "|---|---|---|"]
    for name in names:
        setting = SETTINGS[name]
        meaning = setting.meaning.replace("docs/redaction.md", "[docs/redaction.md](docs/redaction.md)")
        lines.append(f"| `{setting.variable}` | {setting.default_text()} | {meaning} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(markdown(SETTINGS), end="")
