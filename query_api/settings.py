"""Service settings: one frozen object, validated up front, from arguments or `REQLOG_*` variables.

Resolution order: a keyword argument (not `None`) > the environment variable `REQLOG_<FIELD>` >
the default. Each field's default, parser and meaning are declared once, in
`exporter.settings_table.SETTINGS`; a new setting goes there, then gets a field here (and, if it
needs one, a check in `_validate`).
"""

from __future__ import annotations

import dataclasses
import ipaddress
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from exporter.errors import ConfigError
from exporter.settings_table import check_size, field, resolve
from query_api.accounts.db import accounts_path_for


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ServiceSettings:
    """How the reqlog service runs: where it listens and stores, its limits, caches, threads and ingest.

    Each field is the setting of the same name in `exporter.settings_table.SETTINGS`, which declares
    its `REQLOG_*` variable, default and meaning once (the README's configuration reference and
    `reqlog serve --help` are generated from it). `_validate` holds the checks between them.
    """

    db: Path = field("db")
    host: str = field("host")
    port: int = field("port")
    accounts_db: Path | None = field("accounts_db")
    memory_limit: str = field("memory_limit")
    checkpoint_threshold: str = field("checkpoint_threshold")
    read_threads: int = field("read_threads")
    recent_cache_bytes: int = field("recent_cache_bytes")
    warm_cache: bool = field("warm_cache")
    warm_cache_seconds: float = field("warm_cache_seconds")
    list_page_bytes: int = field("list_page_bytes")
    client_max_size: int = field("client_max_size")
    access_log: bool = field("access_log")
    account_refresh_interval: float = field("account_refresh_interval")
    sql_timeout: float = field("sql_timeout")
    sql_row_limit: int = field("sql_row_limit")
    sql_max_bytes: int = field("sql_max_bytes")
    sql_stall_timeout: float = field("sql_stall_timeout")
    retention_days: int | None = field("retention_days")
    ingest_max_bytes: int = field("ingest_max_bytes")
    ingest_inflight_bytes: int = field("ingest_inflight_bytes")
    ingest_max_body_bytes: int = field("ingest_max_body_bytes")
    ingest_span_header_bytes: int = field("ingest_span_header_bytes")
    ingest_queue_rows: int = field("ingest_queue_rows")
    ingest_batch_rows: int = field("ingest_batch_rows")
    ingest_retry_after: int = field("ingest_retry_after")
    ingest_workers: int = field("ingest_workers")
    user_agents_cache_bytes: int = field("user_agents_cache_bytes")
    content_types_cache_bytes: int = field("content_types_cache_bytes")
    header_names_cache_bytes: int = field("header_names_cache_bytes")
    header_keys_cache_bytes: int = field("header_keys_cache_bytes")
    metrics_networks: tuple[str, ...] = field("metrics_networks")
    ready_stall_seconds: float = field("ready_stall_seconds")
    ready_min_free_bytes: int = field("ready_min_free_bytes")
    redact_headers: tuple[str, ...] = field("redact_headers")
    unredact_headers: tuple[str, ...] = field("unredact_headers")
    redact_keys: tuple[str, ...] = field("redact_keys")
    unredact_keys: tuple[str, ...] = field("unredact_keys")
    backend: str = field("backend")
    role: str = field("role")
    lake_catalog: str = field("lake_catalog")
    lake_data: str = field("lake_data")
    lake_accounts: str = field("lake_accounts")
    lake_extension_repository: str = field("lake_extension_repository")
    lake_span_memory: int = field("lake_span_memory")
    lake_maintenance_interval: float = field("lake_maintenance_interval")

    def __post_init__(self) -> None:
        _validate(self)

    @property
    def accounts_path(self) -> Path:
        """The accounts database in use."""
        return self.accounts_db if self.accounts_db is not None else accounts_path_for(self.db)

    @property
    def cache_budgets(self) -> dict[str, int]:
        """The decoder caches' byte budgets, by `exporter.bounded_cache` name."""
        return {
            "header names": self.header_names_cache_bytes,
            "content types": self.content_types_cache_bytes,
            "user agents": self.user_agents_cache_bytes,
            "header keys": self.header_keys_cache_bytes,
        }

    @classmethod
    def from_env(cls, environ: Mapping[str, str], **overrides: Any) -> ServiceSettings:
        """Build from `overrides` (`None` values ignored), then `environ`, then defaults.

        Raises `ConfigError` naming the setting for an unknown override or an invalid value.
        """
        return cls(**resolve(cls, environ, overrides, what="service"))


def _validate(settings: ServiceSettings) -> None:
    if not 0 <= settings.port <= 65535:
        raise ConfigError("port", f"must be 0-65535, got {settings.port}")
    if not settings.host:
        raise ConfigError("host", "must not be empty")
    for name in ("memory_limit", "checkpoint_threshold"):
        check_size(name, getattr(settings, name))
    if settings.read_threads < 1:
        raise ConfigError("read_threads", "must be at least 1")
    if settings.recent_cache_bytes < 0:
        raise ConfigError("recent_cache_bytes", "must be 0 (off) or more")
    if not settings.warm_cache_seconds >= 0:
        raise ConfigError("warm_cache_seconds", "must be 0 (no limit) or more seconds")
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
    for name in ("ingest_max_body_bytes", "ingest_span_header_bytes"):
        if getattr(settings, name) < 1024:
            raise ConfigError(name, "must be at least 1024 bytes")
    if settings.ingest_inflight_bytes < settings.ingest_max_bytes:
        raise ConfigError("ingest_inflight_bytes", "must be at least ingest_max_bytes (one request must fit)")
    for name in (
        "header_names_cache_bytes",
        "content_types_cache_bytes",
        "user_agents_cache_bytes",
        "header_keys_cache_bytes",
    ):
        if getattr(settings, name) < 0:
            raise ConfigError(name, "must be 0 or more bytes")
    if not 0 <= settings.ingest_workers <= 64:
        raise ConfigError("ingest_workers", "must be 0 (decode in a thread) to 64")
    if settings.backend not in ("duckdb", "ducklake"):
        raise ConfigError("backend", f"must be duckdb or ducklake, got {settings.backend!r}")
    if settings.role not in ("writer", "query", "maintenance", "all"):
        raise ConfigError("role", f"must be writer, query, maintenance or all, got {settings.role!r}")
    if settings.backend == "duckdb" and settings.role != "all":
        raise ConfigError("role", "roles need --backend ducklake: one DuckDB file has one process")
    if not settings.lake_maintenance_interval > 0:
        raise ConfigError("lake_maintenance_interval", "must be more than 0 seconds")
    if settings.backend == "ducklake":
        for name in ("lake_catalog", "lake_data", "lake_accounts"):
            if not getattr(settings, name):
                raise ConfigError(name, f"required with the ducklake backend (REQLOG_{name.upper()})")
    for network in settings.metrics_networks:
        try:
            ipaddress.ip_network(network, strict=False)
        except ValueError:
            raise ConfigError("metrics_networks", f"not an address or CIDR: {network!r}") from None
    if not settings.ready_stall_seconds > 0:
        raise ConfigError("ready_stall_seconds", "must be more than 0 seconds")
    if settings.ready_min_free_bytes < 0:
        raise ConfigError("ready_min_free_bytes", "must be 0 or more")
    if settings.retention_days is not None and settings.retention_days < 1:
        raise ConfigError("retention_days", "must be at least 1 day (leave it unset to keep everything)")
