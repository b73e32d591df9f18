"""The hostile tests use the query-API fixtures (a settings object, accounts, a client)."""

from __future__ import annotations

from tests.query_api.conftest import api_client, rows, settings, stored, tokens

__all__ = ["api_client", "rows", "settings", "stored", "tokens"]
