"""reqlog's service: the DRF-compatible request-log API, accounts and tokens, the `reqlog` command."""

from __future__ import annotations

from query_api.app import create_app
from query_api.settings import ServiceSettings

__all__ = ["ServiceSettings", "create_app"]
