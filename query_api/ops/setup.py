"""Registering the operations endpoints on the app: `setup_ops(app)`."""

from __future__ import annotations

from aiohttp import web

from . import health, metrics_view
from .collector import StateCollector
from .metrics import METRICS_KEY, ServiceMetrics, commit_observer
from .openapi import add_to_document


def setup_ops(app: web.Application) -> None:
    """Register the operations endpoints and the metrics of `app` (before it starts)."""
    service_metrics = ServiceMetrics()
    service_metrics.registry.register(StateCollector(app, service_metrics))
    app[METRICS_KEY] = service_metrics
    app.router.add_get(health.HEALTH_PATH, health.healthz)
    app.router.add_get(health.READY_PATH, health.readyz)
    app.router.add_get(metrics_view.PATH, metrics_view.metrics)
    app.on_startup.append(_observe_commits)
    add_to_document(app)


async def _observe_commits(app: web.Application) -> None:
    # After the cleanup contexts have started (aiohttp runs them first), so the writer exists.
    from ..ingest import INGEST_KEY

    ingest = app.get(INGEST_KEY)
    if ingest is not None:
        ingest.writer.commit_observer = commit_observer(app[METRICS_KEY])
