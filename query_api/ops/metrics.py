"""The service's Prometheus metrics: events counted where they happen, one registry per app.

Events (an OTLP request's outcome, a commit's time, an SQL query's outcome, an HTTP answer) are
counted here by one-line calls from where they happen. State that already has a counter or a size
(rows written, the writer's queue, the recent-rows cache, the file) is read when Prometheus scrapes,
by `collector.StateCollector`, so nothing is counted twice. Each app gets its own
`CollectorRegistry`: tests build many apps in one process, and the default global registry would
mix their numbers.

Label values come from a fixed set (outcomes, reasons, route templates, status codes), never from
request data, so the number of series stays bounded whatever clients send.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from aiohttp import web

from query_api.keys import METRICS_KEY
from query_api.ops.registry import METHODS, OTLP_REASONS, UNMATCHED, ServiceMetrics

# -- the one-line calls from where events happen --------------------------------------------


def otlp_stored(app: web.Application) -> None:
    """An OTLP request was answered 2xx: its rows are committed (or it had none to store)."""
    metrics = app.get(METRICS_KEY)
    if metrics is not None:
        metrics.otlp_requests.labels("stored", "").inc()


def otlp_failed(app: web.Application, status: int, *, over_budget: bool, rows: int | None) -> None:
    """An OTLP request was answered `status`; `rows`: HTTP server spans it held (None: not decoded)."""
    metrics = app.get(METRICS_KEY)
    if metrics is None:
        return
    if status == 503:
        if over_budget:
            outcome, reason = "refused", "inflight_budget"
        elif rows is None:
            outcome, reason = "refused", "decoder"  # a decoding process died
        else:
            outcome, reason = "refused", "writer"  # queue full, or the commit failed
            metrics.refused_spans += rows
    else:
        outcome, reason = OTLP_REASONS.get(status, ("rejected", str(status)))
    metrics.otlp_requests.labels(outcome, reason).inc()


def sql_outcome(app: web.Application, outcome: str) -> None:
    """An analyst query ended: ok, truncated, refused, timeout, error or busy."""
    metrics = app.get(METRICS_KEY)
    if metrics is not None:
        metrics.sql_queries.labels(outcome).inc()


def commit_observer(metrics: ServiceMetrics) -> Callable[[float], None]:
    """What the writer calls with each transaction's seconds (on its own thread; Histogram is thread-safe)."""
    return metrics.commit_seconds.observe


# -- HTTP requests ---------------------------------------------------------------------------

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def http_metrics_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Count every answer by route template and status, and time it (outermost middleware)."""
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        metrics = request.app.get(METRICS_KEY)
        if metrics is not None:
            route = _route_label(request)
            method = request.method if request.method in METHODS else "other"  # any token is a valid method
            metrics.http_requests.labels(route, method, str(status)).inc()
            metrics.http_seconds.labels(route).observe(time.perf_counter() - started)


def _route_label(request: web.Request) -> str:
    resource = request.match_info.route.resource
    if resource is None:
        return UNMATCHED
    # The template (`/api/metrics/request_logs/{request_id}`), so ids never become series.
    return resource.canonical if request.match_info.http_exception is None else UNMATCHED
