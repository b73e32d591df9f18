"""`--backend ducklake --role ...`: which routes and resources each node role gets, and the settings it needs."""

from __future__ import annotations

import pytest

from exporter.errors import ConfigError
from query_api import lifecycle
from query_api.app import lifecycle_for, routes_for
from query_api.housekeeping.retention_job import retention_context
from query_api.ingest import receiver as ingest
from query_api.settings import ServiceSettings
from query_api.sql.slots import sql_context

LAKE = {
    "backend": "ducklake",
    "lake_catalog": "host=127.0.0.1 dbname=lake",
    "lake_data": "/srv/lake",
    "lake_accounts": "host=127.0.0.1 dbname=accounts",
}


def test_roles_need_the_lake_and_the_lake_needs_its_settings() -> None:
    with pytest.raises(ConfigError, match="role"):
        ServiceSettings(role="writer")
    with pytest.raises(ConfigError, match="lake_catalog"):
        ServiceSettings(backend="ducklake")
    with pytest.raises(ConfigError, match="role"):
        ServiceSettings(**LAKE, role="reader")
    assert ServiceSettings.from_env({"REQLOG_BACKEND": "ducklake", "REQLOG_ROLE": "query"} | _env()).role == "query"


def _env() -> dict[str, str]:
    return {f"REQLOG_{name.upper()}": value for name, value in LAKE.items() if name != "backend"}


def _paths(role: str) -> set[str]:
    return {route.path for route in routes_for(ServiceSettings(**LAKE, role=role))}


def test_each_role_serves_its_own_routes() -> None:
    everything = {route.path for route in routes_for(ServiceSettings())}
    assert _paths("all") == everything
    writer, query, maintenance = _paths("writer"), _paths("query"), _paths("maintenance")
    assert ingest.PATH in writer and ingest.PATH not in query and ingest.PATH not in maintenance
    assert "/api/metrics/request_logs" in query and "/api/metrics/sql" in query
    assert "/api/metrics/request_logs" not in writer and "/api/metrics/sql" not in writer
    assert not any("prune" in path for path in query)  # query nodes attach read-only
    assert maintenance == {"/api/openapi.json", "/api/metrics/service"}


def test_each_role_opens_only_what_it_uses() -> None:
    single = lifecycle_for(ServiceSettings())
    assert retention_context in single and ingest.ingest_context in single
    writer = lifecycle_for(ServiceSettings(**LAKE, role="writer"))
    assert ingest.ingest_context in writer and sql_context not in writer and lifecycle.store_context in writer
    query = lifecycle_for(ServiceSettings(**LAKE, role="query"))
    assert sql_context in query and ingest.ingest_context not in query
    maintenance = [context.__name__ for context in lifecycle_for(ServiceSettings(**LAKE, role="maintenance"))]
    assert "maintenance_context" in maintenance and "retention_context" not in maintenance
    assert lifecycle.warm_recent_cache not in query  # a query node's cache would not see other nodes' rows
