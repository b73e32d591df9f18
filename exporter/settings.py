"""Exporter settings: one frozen object, validated up front, built from arguments or `REQLOG_*`."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path

from .errors import ConfigError
from .redaction import Redactor

DEFAULT_DB_PATH = Path("data/reqlog.duckdb")


def _csv(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ExporterSettings:
    """How spans become rows and where they are stored.

    Every field has an environment variable, `REQLOG_<FIELD>` (lists comma-separated):

    - `db` (`REQLOG_DB`): the DuckDB file, default `data/reqlog.duckdb`.
    - `redact_headers` / `unredact_headers`: header entries to redact beyond the defaults / defaults
      to turn off or names to exempt (`Redactor.build`; the entry syntax is in docs/redaction.md).
    - `redact_keys` / `unredact_keys`: the same for body, response, form and query keys.
    - `memory_limit` (`REQLOG_MEMORY_LIMIT`): DuckDB's memory limit, default `1GB`.
    - `checkpoint_threshold` (`REQLOG_CHECKPOINT_THRESHOLD`): WAL size that triggers a checkpoint,
      default `256MB` (fewer checkpoint stalls than DuckDB's 16 MB; docs/design-notes.md).
    """

    db: Path = DEFAULT_DB_PATH
    redact_headers: tuple[str, ...] = ()
    unredact_headers: tuple[str, ...] = ()
    redact_keys: tuple[str, ...] = ()
    unredact_keys: tuple[str, ...] = ()
    memory_limit: str = "1GB"
    checkpoint_threshold: str = "256MB"

    def __post_init__(self) -> None:
        for name in ("memory_limit", "checkpoint_threshold"):
            value = getattr(self, name)
            if not value or not value.rstrip("KMGTiBb").replace(".", "", 1).isdigit():
                raise ConfigError(name, f"expected a size such as 512MB, got {value!r}")

    @classmethod
    def from_env(cls, environ: Mapping[str, str], **overrides: object) -> ExporterSettings:
        """Arguments win over `REQLOG_*` variables, which win over defaults."""
        values: dict[str, object] = {}
        for field in dataclasses.fields(cls):
            env_name = f"REQLOG_{field.name.upper()}"
            if field.name in overrides and overrides[field.name] is not None:
                values[field.name] = overrides[field.name]
            elif env_name in environ:
                raw = environ[env_name]
                values[field.name] = Path(raw) if field.name == "db" else _csv(raw) if "redact" in field.name else raw
        unknown = set(overrides) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ConfigError(sorted(unknown)[0], "unknown exporter setting")
        if "db" in values:
            values["db"] = Path(str(values["db"]))
        return cls(**values)  # type: ignore[arg-type]

    def redactor(self) -> Redactor:
        return Redactor.build(
            add_headers=self.redact_headers,
            keep_headers=self.unredact_headers,
            add_keys=self.redact_keys,
            keep_keys=self.unredact_keys,
        )
