"""reqlog's exporter: the request-log row, span flattening, redaction, the DuckDB store."""

from __future__ import annotations

from .duckdb_exporter import DuckDBSpanExporter
from .errors import ConfigError, RequestLogError, StorageError
from .flatten import build_row, span_to_row
from .redaction import REDACTED, Redactor
from .row import RequestLog, render_json, to_json
from .settings import ExporterSettings
from .store import RequestLogStore
from .useragent import UserAgentInfo, classify

__all__ = [
    "REDACTED",
    "ConfigError",
    "DuckDBSpanExporter",
    "ExporterSettings",
    "Redactor",
    "RequestLog",
    "RequestLogError",
    "RequestLogStore",
    "StorageError",
    "UserAgentInfo",
    "build_row",
    "classify",
    "render_json",
    "span_to_row",
    "to_json",
]
