"""Metrics read from the service's state when Prometheus scrapes, not counted a second time.

The ingest counters (`IngestStats`), the writer's counters and queue, the recent-rows cache and
the database file already keep what an operator watches; this collector turns them into metric
families at scrape time. It runs on the event loop (the `/metrics` handler calls it), reads plain
integers that other threads write (a scrape may see a count one commit old, never a torn one),
and stats two files.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

from aiohttp import web
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from query_api.keys import INGEST_KEY, RECENT_KEY, SETTINGS_KEY, STORE_KEY
from query_api.ops.health import readiness_problems
from query_api.ops.registry import ServiceMetrics


class StateCollector(Collector):
    """The state of `app` as metric families (registered on the app's `ServiceMetrics.registry`)."""

    def __init__(self, app: web.Application, metrics: ServiceMetrics) -> None:
        self._app = app
        self._metrics = metrics

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        app = self._app
        yield _gauge("reqlog_ready", "1 when GET /readyz answers 200, else 0.", 0 if readiness_problems(app) else 1)
        ingest = app.get(INGEST_KEY)
        if ingest is not None:
            stats, writer = ingest.stats, ingest.writer
            spans = CounterMetricFamily(
                "reqlog_otlp_spans",
                "Spans received over OTLP by outcome: stored (a new row), duplicate (a retried span already "
                "stored), ignored (not an HTTP server span), rejected (malformed), refused (its request got 503).",
                labels=["outcome"],
            )
            for outcome, value in (
                ("stored", stats.rows),
                ("duplicate", writer.duplicates),
                ("ignored", stats.ignored),
                ("rejected", stats.rejected),
                ("refused", self._metrics.refused_spans),
            ):
                spans.add_metric([outcome], value)
            yield spans
            yield _gauge(
                "reqlog_writer_queue_rows", "Rows waiting for the writer or being written.", writer.pending_rows
            )
            busy = writer.busy_since
            yield _gauge(
                "reqlog_writer_busy_seconds",
                "How long the transaction now running has run (0 when the writer is idle).",
                0.0 if busy is None else max(0.0, time.monotonic() - busy),
            )
            yield _counter("reqlog_writer_rows_written", "Rows the database file gained.", writer.rows_written)
            yield _counter("reqlog_writer_transactions", "Writer transactions committed.", writer.transactions)
            yield _counter(
                "reqlog_writer_failures", "Batches that could not be written (answered 503).", writer.failures
            )
        cache = app.get(RECENT_KEY)
        if cache is not None:
            yield _counter("reqlog_recent_cache_hits", "Retrieves answered from the recent-rows cache.", cache.hits)
            yield _counter("reqlog_recent_cache_misses", "Retrieves that went to the store.", cache.misses)
            yield _gauge("reqlog_recent_cache_bytes", "Bytes held by the recent-rows cache.", cache.nbytes)
        store = app.get(STORE_KEY)
        if store is not None:
            yield _counter("reqlog_store_reopens", "Times DuckDB invalidated the database and it was reopened.",
                           store.reopens)  # fmt: skip
        yield from _files(app[SETTINGS_KEY].db)


def _files(db: Path) -> Iterator[GaugeMetricFamily]:
    size = GaugeMetricFamily(
        "reqlog_database_size_bytes", "Size of the DuckDB file and of its write-ahead log.", labels=["file"]
    )
    for label, path in (("database", db), ("wal", db.with_name(db.name + ".wal"))):
        try:
            size.add_metric([label], os.stat(path).st_size)
        except OSError:
            size.add_metric([label], 0)  # no WAL right after a checkpoint
    yield size
    try:
        free = shutil.disk_usage(db.parent).free
    except OSError:
        return
    yield _gauge("reqlog_disk_free_bytes", "Free bytes on the file system of the data directory.", free)


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)


def _counter(name: str, documentation: str, value: float) -> CounterMetricFamily:
    return CounterMetricFamily(name, documentation, value=value)
