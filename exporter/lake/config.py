"""Where a lake lives: the PostgreSQL catalog's connection string and the Parquet data path."""

from __future__ import annotations

import dataclasses

from ..errors import ConfigError

ROLES = ("writer", "query", "maintenance", "all")


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class LakeConfig:
    """The settings of `--backend ducklake` (`query_api.settings` reads them from `REQLOG_LAKE_*`):

    - `catalog` (`REQLOG_LAKE_CATALOG`): libpq connection string of the catalog database, as the
      node's role sees it (writers and maintenance: the lake's owner; query nodes: a SELECT-only role).
    - `data` (`REQLOG_LAKE_DATA`): the directory (or `s3://...` prefix) of the Parquet files.
    - `accounts` (`REQLOG_LAKE_ACCOUNTS`): libpq connection string of the accounts database, a
      database and role apart from the lake's, so the analysts' role can never read token hashes.
    - `extension_repository` (`REQLOG_LAKE_EXTENSION_REPOSITORY`): an extension repository (URL or
      directory) `INSTALL` fetches the extensions from, used first when set (a mirror for air-gapped
      sites, `extensions.lay_out_repository`); unset, matching PyPI wheels, else DuckDB's repository.
    - `span_memory` (`REQLOG_LAKE_SPAN_MEMORY`): how many recent span keys a writer remembers, default
      200,000 (~180 bytes each: ~36 MB).
    """

    catalog: str
    data: str
    accounts: str | None = None
    extension_repository: str | None = None
    span_memory: int = 200_000

    def __post_init__(self) -> None:
        if not self.catalog.strip():
            raise ConfigError("lake_catalog", "the catalog's PostgreSQL connection string is required")
        if not self.data.strip():
            raise ConfigError("lake_data", "the data path is required")
        if self.span_memory < 0:
            raise ConfigError("lake_span_memory", "must be >= 0")
