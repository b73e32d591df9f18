"""Exporter settings: one frozen object, validated up front, built from arguments or `REQLOG_*`.

Each field's default, parser and meaning are declared once, in `settings_table.SETTINGS`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path

from .redaction import Redactor
from .settings_table import check_size, field, resolve


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ExporterSettings:
    """How spans become rows and where they are stored: the DuckDB file, redaction, DuckDB's limits.

    Each field is the setting of the same name in `settings_table.SETTINGS` (its `REQLOG_*`
    variable, default and meaning); the redaction entries' syntax is in docs/redaction.md.
    """

    db: Path = field("db")
    redact_headers: tuple[str, ...] = field("redact_headers")
    unredact_headers: tuple[str, ...] = field("unredact_headers")
    redact_keys: tuple[str, ...] = field("redact_keys")
    unredact_keys: tuple[str, ...] = field("unredact_keys")
    memory_limit: str = field("memory_limit")
    checkpoint_threshold: str = field("checkpoint_threshold")

    def __post_init__(self) -> None:
        for name in ("memory_limit", "checkpoint_threshold"):
            check_size(name, getattr(self, name))

    @classmethod
    def from_env(cls, environ: Mapping[str, str], **overrides: object) -> ExporterSettings:
        """Arguments win over `REQLOG_*` variables, which win over defaults (`settings_table.resolve`)."""
        return cls(**resolve(cls, environ, overrides, what="exporter"))

    def redactor(self) -> Redactor:
        return Redactor.build(
            add_headers=self.redact_headers,
            keep_headers=self.unredact_headers,
            add_keys=self.redact_keys,
            keep_keys=self.unredact_keys,
        )
