"""Service settings: one frozen object, validated up front, from arguments or `REQLOG_*` variables.

Resolution order: a keyword argument (not `None`) > the environment variable `REQLOG_<FIELD>` >
the default. Environment values are converted by the field's annotation; the supported ones are
`str`, `int`, `float`, `bool`, `Path` and their `| None` forms (an empty variable means `None`).
Other modules add their own fields here with small edits: give each a default, a line in the
docstring, and (if it needs one) a check in `_validate`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from exporter.errors import ConfigError
from exporter.settings import DEFAULT_DB_PATH
from query_api.accounts.db import accounts_path_for

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ServiceSettings:
    """How the reqlog service runs. Each field's variable is `REQLOG_<FIELD>`.

    - `db`: the DuckDB file, default `data/reqlog.duckdb`.
    - `host`, `port`: where to listen, default `127.0.0.1:8000` (loopback only unless told).
    - `accounts_db`: the SQLite accounts file; `None` means `accounts.sqlite3` beside `db`.
    - `memory_limit`, `checkpoint_threshold`: DuckDB's, as in `ExporterSettings`.
    - `read_threads`: threads that run store reads (retrieve misses, lists), default 4.
    - `recent_cache_bytes`: size of the cache of recently written rows, default 64 MiB; 0 turns it off.
    - `warm_cache`: fill that cache with the newest stored rows at start, default on (up to
      `recent_cache_bytes`, read in steps of at most `list_page_bytes`).
    - `list_page_bytes`: the most row bytes one list page holds, default 16 MiB; a page that would
      pass it has fewer rows than `page_size` and a `next` link to the rest (the first row always fits).
    - `client_max_size`: the largest request body accepted, default 64 MiB (OTLP batches are big).
    - `access_log`: log every request (costs ~45% of throughput, docs/design-notes.md), default off.
    - `account_refresh_interval`: seconds between checks for changed credentials, default 0.25.
    - `sql_timeout`: seconds an analyst query may run before it is interrupted, default 5.
    - `sql_row_limit`: rows an analyst query may return (more are cut off and flagged), default 10,000.
    - `sql_max_bytes`: bytes of values an analyst query's answer may hold (the rest is cut off and
      flagged `truncated`, as rows past `sql_row_limit` are), default 64 MiB.
    - `sql_stall_timeout`: seconds an export may wait for a client that stops reading before it is cut
      off and its SQL slot freed, default 30.
    - `retention_days`: delete rows that started more than this many days ago, once a day; `None` keeps all.
    - `ingest_max_bytes`: the largest OTLP request on `POST /v1/traces` after decompression, default
      128 MiB (a stock SDK batch of 512 spans with two 64 KiB bodies each is ~65 MiB in protobuf,
      more in OTLP/JSON); larger ones get 413.
    - `ingest_inflight_bytes`: bytes of OTLP requests being read, decoded or written at once, default
      256 MiB; a request that would pass it gets 503 + Retry-After (at least `ingest_max_bytes`).
    - `ingest_max_body_bytes`: the longest request or response body stored from OTLP, default 1 MiB
      (above the instrumentation's 64 KiB); a longer one is cut and flagged truncated (`exporter.limits`).
    - `ingest_queue_rows`: rows waiting for the writer before OTLP requests get 503, default 50,000.
    - `ingest_batch_rows`: the most rows the writer commits in one transaction, default 10,000.
    - `ingest_retry_after`: seconds in the `Retry-After` of a 503 from `POST /v1/traces`, default 1.
    - `ingest_workers`: processes that decode OTLP requests, default 1 (spawned on the first one);
      0 decodes in a thread of the service (slower: it shares a core with everything else).
    - `redact_headers`, `unredact_headers`, `redact_keys`, `unredact_keys`: comma-separated, as for
      the exporter (`ExporterSettings`): what OTLP ingest redacts beyond the defaults / keeps.
    """

    db: Path = DEFAULT_DB_PATH
    host: str = "127.0.0.1"
    port: int = 8000
    accounts_db: Path | None = None
    memory_limit: str = "1GB"
    checkpoint_threshold: str = "256MB"
    read_threads: int = 4
    recent_cache_bytes: int = 64 * 1024 * 1024
    warm_cache: bool = True
    list_page_bytes: int = 16 * 1024 * 1024
    client_max_size: int = 64 * 1024 * 1024
    access_log: bool = False
    account_refresh_interval: float = 0.25
    sql_timeout: float = 5.0
    sql_row_limit: int = 10_000
    sql_max_bytes: int = 64 * 1024 * 1024
    sql_stall_timeout: float = 30.0
    retention_days: int | None = None
    ingest_max_bytes: int = 128 * 1024 * 1024
    ingest_inflight_bytes: int = 256 * 1024 * 1024
    ingest_max_body_bytes: int = 1024 * 1024
    ingest_queue_rows: int = 50_000
    ingest_batch_rows: int = 10_000
    ingest_retry_after: int = 1
    ingest_workers: int = 1
    redact_headers: str = ""
    unredact_headers: str = ""
    redact_keys: str = ""
    unredact_keys: str = ""

    def __post_init__(self) -> None:
        _validate(self)

    @property
    def accounts_path(self) -> Path:
        """The accounts database in use."""
        return self.accounts_db if self.accounts_db is not None else accounts_path_for(self.db)

    @classmethod
    def from_env(cls, environ: Mapping[str, str], **overrides: Any) -> ServiceSettings:
        """Build from `overrides` (`None` values ignored), then `environ`, then defaults.

        Raises `ConfigError` naming the setting for an unknown override or an invalid value.
        """
        fields = {f.name: f for f in dataclasses.fields(cls)}
        unknown = set(overrides) - set(fields)
        if unknown:
            raise ConfigError(sorted(unknown)[0], "unknown service setting")
        values: dict[str, Any] = {}
        for name, field in fields.items():
            env_name = f"REQLOG_{name.upper()}"
            if overrides.get(name) is not None:
                values[name] = _convert(name, overrides[name], str(field.type))
            elif env_name in environ:
                values[name] = _convert(env_name, environ[env_name], str(field.type))
        return cls(**values)


def _convert(name: str, value: Any, annotation: str) -> Any:
    optional = annotation.endswith("| None")
    base = annotation.removesuffix("| None").strip()
    if isinstance(value, str):
        value = value.strip()
        if optional and value == "":
            return None
    try:
        if base == "Path":
            return Path(value)
        if base == "bool":
            if isinstance(value, bool):
                return value
            text = str(value).lower()
            if text in _TRUE or text in _FALSE:
                return text in _TRUE
            raise ValueError(f"expected true or false, got {value!r}")
        if base == "int":
            return int(value)
        if base == "float":
            return float(value)
    except (TypeError, ValueError) as exc:
        raise ConfigError(name, f"invalid value {value!r}: {exc}") from exc
    return value


def _validate(settings: ServiceSettings) -> None:
    if not 0 <= settings.port <= 65535:
        raise ConfigError("port", f"must be 0-65535, got {settings.port}")
    if not settings.host:
        raise ConfigError("host", "must not be empty")
    for name in ("memory_limit", "checkpoint_threshold"):
        value = getattr(settings, name)
        if not value or not value.rstrip("KMGTiBb").replace(".", "", 1).isdigit():
            raise ConfigError(name, f"expected a size such as 512MB, got {value!r}")
    if settings.read_threads < 1:
        raise ConfigError("read_threads", "must be at least 1")
    if settings.recent_cache_bytes < 0:
        raise ConfigError("recent_cache_bytes", "must be 0 (off) or more")
    if settings.list_page_bytes < 1024:
        raise ConfigError("list_page_bytes", "must be at least 1024 bytes")
    if settings.client_max_size < 1024:
        raise ConfigError("client_max_size", "must be at least 1024 bytes")
    if not 0 < settings.account_refresh_interval <= 1:
        raise ConfigError("account_refresh_interval", "must be more than 0 and at most 1 second")
    if not settings.sql_timeout > 0:
        raise ConfigError("sql_timeout", "must be more than 0 seconds")
    if not settings.sql_stall_timeout > 0:
        raise ConfigError("sql_stall_timeout", "must be more than 0 seconds")
    if settings.sql_row_limit < 1:
        raise ConfigError("sql_row_limit", "must be at least 1")
    if settings.sql_max_bytes < 1:
        raise ConfigError("sql_max_bytes", "must be at least 1")
    for name in ("ingest_max_bytes", "ingest_queue_rows", "ingest_batch_rows", "ingest_retry_after"):
        if getattr(settings, name) < 1:
            raise ConfigError(name, "must be at least 1")
    if settings.ingest_max_body_bytes < 1024:
        raise ConfigError("ingest_max_body_bytes", "must be at least 1024 bytes")
    if settings.ingest_inflight_bytes < settings.ingest_max_bytes:
        raise ConfigError("ingest_inflight_bytes", "must be at least ingest_max_bytes (one request must fit)")
    if not 0 <= settings.ingest_workers <= 64:
        raise ConfigError("ingest_workers", "must be 0 (decode in a thread) to 64")
    if settings.retention_days is not None and settings.retention_days < 1:
        raise ConfigError("retention_days", "must be at least 1 day (leave it unset to keep everything)")
