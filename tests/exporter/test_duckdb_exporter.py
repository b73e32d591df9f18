"""`DuckDBSpanExporter` behind the real SDK: batching, thread safety, shutdown, entry point."""

from __future__ import annotations

import logging
import threading
from importlib.metadata import entry_points
from pathlib import Path

import pytest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExportResult
from opentelemetry.trace import SpanKind

from exporter import DuckDBSpanExporter, RequestLogStore, StorageError

ATTRIBUTES = {"http.request.method": "GET", "url.path": "/ping", "url.scheme": "http", "http.response.status_code": 200}


def run_requests(provider: TracerProvider, count: int, *, kind: SpanKind = SpanKind.SERVER) -> None:
    tracer = provider.get_tracer("test")
    for i in range(count):
        with tracer.start_as_current_span("GET /ping", kind=kind, attributes={**ATTRIBUTES, "url.query": f"i={i}"}):
            pass


def stored_count(path: Path) -> int:
    store = RequestLogStore(path)
    try:
        return store.count()
    finally:
        store.close()


def test_batch_span_processor_delivers_every_server_span(db_path: Path) -> None:
    exporter = DuckDBSpanExporter(db_path)
    provider = TracerProvider(resource=Resource.create({"service.name": "shop"}))
    provider.add_span_processor(BatchSpanProcessor(exporter, max_export_batch_size=512))
    run_requests(provider, 1200)
    run_requests(provider, 5, kind=SpanKind.INTERNAL)
    provider.force_flush()
    assert exporter.exported == 1200
    assert exporter.skipped == 5
    provider.shutdown()
    assert stored_count(db_path) == 1200


def test_concurrent_exports_from_many_threads(db_path: Path, tracer_provider, span_exporter) -> None:  # type: ignore[no-untyped-def]
    run_requests(tracer_provider, 400)
    spans = span_exporter.get_finished_spans()
    exporter = DuckDBSpanExporter(db_path)
    results = []
    chunks = [spans[i : i + 50] for i in range(0, len(spans), 50)]
    threads = [threading.Thread(target=lambda c=c: results.append(exporter.export(c))) for c in chunks]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [SpanExportResult.SUCCESS] * len(chunks)
    exporter.shutdown()
    assert stored_count(db_path) == 400


def test_shutdown_is_idempotent_and_export_after_it_fails_quietly(
    db_path: Path, tracer_provider, span_exporter
) -> None:  # type: ignore[no-untyped-def]
    run_requests(tracer_provider, 1)
    exporter = DuckDBSpanExporter(db_path)
    assert exporter.force_flush() is True
    exporter.shutdown()
    exporter.shutdown()
    assert exporter.export(span_exporter.get_finished_spans()) is SpanExportResult.FAILURE


def test_export_never_raises(db_path: Path, tracer_provider, span_exporter, caplog: pytest.LogCaptureFixture) -> None:  # type: ignore[no-untyped-def]
    run_requests(tracer_provider, 2)
    exporter = DuckDBSpanExporter(db_path)
    exporter.store.cursor().execute("DROP TABLE request_log_rows")  # the write will fail
    with caplog.at_level(logging.ERROR):
        assert exporter.export(span_exporter.get_finished_spans()) is SpanExportResult.FAILURE
    assert "could not export 2 spans" in caplog.text
    assert exporter.export([object()]) is SpanExportResult.FAILURE  # type: ignore[list-item]
    exporter.shutdown()


def test_a_held_file_is_a_storage_error(db_path: Path) -> None:
    first = DuckDBSpanExporter(db_path)
    try:
        with pytest.raises(StorageError):
            # Another connection with a different configuration, as a second process would be refused.
            RequestLogStore(db_path, memory_limit="512MB")
    finally:
        first.shutdown()


def test_registered_as_an_opentelemetry_traces_exporter(db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (entry,) = [e for e in entry_points(group="opentelemetry_traces_exporter") if e.name == "reqlog_duckdb"]
    assert entry.load() is DuckDBSpanExporter
    monkeypatch.setenv("REQLOG_DB", str(db_path))
    exporter = entry.load()()
    assert exporter.settings.db == db_path
    exporter.shutdown()


def test_a_file_with_ids_past_the_sequence_keeps_taking_rows(db_path: Path, tracer_provider, span_exporter) -> None:  # type: ignore[no-untyped-def]
    # Before: the in-process exporter's insert skipped every row on the id clash, returned SUCCESS
    # and counted them exported. Now the sequence moves past max(id) on open and on a clash.
    RequestLogStore(db_path).close()
    import duckdb

    con = duckdb.connect(str(db_path))
    con.execute(
        "INSERT INTO request_log_rows (id, trace_id, span_id) SELECT range, 'restored', range::VARCHAR FROM range(1, 6)"
    )
    con.close()
    exporter = DuckDBSpanExporter(db_path)
    try:
        run_requests(tracer_provider, 3)
        assert exporter.export(span_exporter.get_finished_spans()) == SpanExportResult.SUCCESS
        assert exporter.exported == 3
        exporter.store.cursor().execute(
            "INSERT INTO request_log_rows (id) VALUES (9), (10), (11), (12)"
        )  # by hand, meanwhile
        span_exporter.clear()
        run_requests(tracer_provider, 2)
        assert exporter.export(span_exporter.get_finished_spans()) == SpanExportResult.SUCCESS
        assert exporter.exported == 5
        assert exporter.store.count() == 5 + 3 + 4 + 2
    finally:
        exporter.shutdown()
