"""Shared fixtures: a hermetic environment, the real OTel SDK with a local provider, and real DuckDB files."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from . import speedups_gate  # reads REQLOG_REQUIRE_SPEEDUPS before the loop below removes it
from .hermetic import is_ours

# Removed as the suite starts, before any test module is imported: some build OTel SDK objects at
# import time, and the SDK reads `OTEL_*` (`OTEL_SDK_DISABLED`, limits, endpoints) when constructed.
for _name in [name for name in os.environ if is_ours(name)]:
    del os.environ[_name]


def pytest_report_header() -> str:
    return speedups_gate.notice()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    # The header scrolls away; a contributor without a C compiler sees this under the results.
    if not speedups_gate.COMPILED:
        terminalreporter.write_line(speedups_gate.notice(), yellow=True)


@pytest.fixture(autouse=True)
def _hermetic(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test starts without `REQLOG_*`/`OTEL_*` variables (a test sets its own with `monkeypatch`)."""
    for name in [name for name in os.environ if is_ours(name)]:
        monkeypatch.delenv(name)


@pytest.fixture
def span_exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def tracer_provider(span_exporter: InMemorySpanExporter) -> Iterator[TracerProvider]:
    """A local provider (never the global one) that hands finished spans to `span_exporter`."""
    provider = TracerProvider(resource=Resource.create({"service.name": "test-service"}))
    provider.add_span_processor(SimpleSpanProcessor(span_exporter))
    yield provider
    provider.shutdown()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "logs.duckdb"


# tests/lake run in their own environment (DuckDB 1.5.5 with the DuckLake extension wheels), which
# `make test-lake` builds and `make test` runs; the project's environment (DuckDB 2.x) leaves them out.
collect_ignore = [] if importlib.util.find_spec("duckdb_extension_ducklake") else ["lake"]
