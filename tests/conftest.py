"""Shared fixtures: a hermetic environment, the real OTel SDK with a local provider, and real DuckDB files."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from .hermetic import is_ours


def _strip(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [name for name in os.environ if is_ours(name)]:
        monkeypatch.delenv(name)


_SAVED: dict[str, str] = {}


def pytest_configure(config: pytest.Config) -> None:
    """Strip `REQLOG_*`/`OTEL_*` before collection: test modules build OTel objects at import
    (a module-level `TracerProvider()` reads `OTEL_SDK_DISABLED`), and session fixtures start servers."""
    for name in [name for name in os.environ if is_ours(name)]:
        _SAVED[name] = os.environ.pop(name)


def pytest_unconfigure(config: pytest.Config) -> None:
    os.environ.update(_SAVED)


@pytest.fixture(autouse=True)
def _hermetic(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test starts without `REQLOG_*`/`OTEL_*` variables (a test sets its own with `monkeypatch`)."""
    _strip(monkeypatch)


@pytest.fixture(autouse=True)
def _hermetic_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test reads the developer's (or CI's) REQLOG_* and OTEL_* variables; a test sets its own."""
    for name in list(os.environ):
        if name.startswith(("REQLOG_", "OTEL_")):
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
