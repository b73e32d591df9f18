"""The operations room's part of the app: its metrics registry and the writer's commit timer.

`app.ROUTES` holds `/healthz`, `/readyz` and `/metrics`; `create_app` calls `add_metrics` before
anything starts, and `metrics_context` (in `app.LIFECYCLE`, after ingest) hands the writer the
histogram it times each commit into.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from query_api.keys import INGEST_KEY, METRICS_KEY
from query_api.ops.collector import StateCollector
from query_api.ops.metrics import commit_observer
from query_api.ops.registry import ServiceMetrics


def add_metrics(app: web.Application) -> None:
    """Give `app` its own registry: event metrics plus the state collector."""
    service_metrics = ServiceMetrics()
    service_metrics.registry.register(StateCollector(app, service_metrics))
    app[METRICS_KEY] = service_metrics


async def metrics_context(app: web.Application) -> AsyncIterator[None]:
    ingest = app.get(INGEST_KEY)
    if ingest is not None:
        ingest.writer.commit_observer = commit_observer(app[METRICS_KEY])
    yield
