"""The service's metric objects (`ServiceMetrics`), one registry per app, and their fixed label values.

Apart from `metrics` (the one-line calls that count events) so that `keys.METRICS_KEY` can name the
type without an import cycle.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.process_collector import ProcessCollector

# Seconds. Commits are ~1 ms plus a few us a row; a checkpoint can stall one for a second or more.
COMMIT_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
HTTP_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "unmatched"  # the route label of a request no route took (404s: never the raw path)
OTLP_REASONS = {400: ("rejected", "malformed"), 413: ("rejected", "too_large"), 415: ("rejected", "unsupported_media")}
REFUSALS = ("writer", "inflight_budget", "decoder")
SQL_OUTCOMES = (
    "ok",
    "truncated",
    "refused",
    "timeout",
    "error",
)  # the route label of a request no route took (404s: never the raw path)


class ServiceMetrics:
    """The event metrics of one service, in their own registry (`registry`)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        registry = self.registry
        self.otlp_requests = Counter(
            "reqlog_otlp_requests",
            "OTLP export requests by outcome (stored, rejected, refused) and reason.",
            ["outcome", "reason"],
            registry=registry,
        )
        # Spans of requests the writer refused (503): `reqlog_otlp_spans_total{outcome="refused"}`,
        # emitted with the other span outcomes by `StateCollector`.
        self.refused_spans = 0
        self.commit_seconds = Histogram(
            "reqlog_writer_commit_duration_seconds",
            "Time of one writer transaction (insert plus COMMIT).",
            buckets=COMMIT_BUCKETS,
            registry=registry,
        )
        self.sql_queries = Counter(
            "reqlog_sql_queries",
            "Analyst SQL queries (POST /api/metrics/sql) by outcome.",
            ["outcome"],
            registry=registry,
        )
        self.http_requests = Counter(
            "reqlog_http_requests",
            "HTTP requests answered, by route template, method and status.",
            ["route", "method", "status"],
            registry=registry,
        )
        self.http_seconds = Histogram(
            "reqlog_http_request_duration_seconds",
            "Time from receiving a request to the end of its answer, by route template.",
            ["route"],
            buckets=HTTP_BUCKETS,
            registry=registry,
        )
        # process_resident_memory_bytes, process_cpu_seconds_total, open fds: sizing and leaks.
        ProcessCollector(registry=registry)
        # Every known outcome exists from the start at 0, so rates and alert ratios have a series to read.
        for outcome, reason in (("stored", ""), *OTLP_REASONS.values(), *(("refused", r) for r in REFUSALS)):
            self.otlp_requests.labels(outcome, reason)
        for outcome in SQL_OUTCOMES:
            self.sql_queries.labels(outcome)
