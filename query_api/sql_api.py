"""Analyst SQL endpoints. Placeholder until the SQL work lands (issue 6)."""

from __future__ import annotations

from aiohttp import web


def setup_sql(app: web.Application) -> None:
    """Register the SQL and stats routes on `app` (not yet implemented)."""
