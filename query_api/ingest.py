"""OTLP/HTTP ingest (`POST /v1/traces`). Placeholder until the collector lands (issue 5)."""

from __future__ import annotations

from aiohttp import web


def setup_ingest(app: web.Application) -> None:
    """Register the OTLP route and the writer's lifecycle on `app` (not yet implemented)."""
