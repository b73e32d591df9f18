"""The application factory: `create_app(settings)`, from one route table and one lifecycle list.

Read top to bottom, `ROUTES` is every endpoint the service answers, with the room that serves it;
`LIFECYCLE` is every resource it holds, opened in that order when the app starts and closed in
reverse order when it stops. `web.run_app` turns SIGINT/SIGTERM into that orderly shutdown after
in-flight requests finish. A new room adds its routes to `ROUTES` and its context to `LIFECYCLE`.
"""

from __future__ import annotations

from aiohttp import web

from query_api import lifecycle, openapi
from query_api.errors import error_middleware
from query_api.housekeeping import export_endpoint as export
from query_api.housekeeping import prune_endpoint as prune
from query_api.housekeeping.retention import RetentionState
from query_api.housekeeping.retention_job import retention_context
from query_api.ingest import openapi as ingest_doc
from query_api.ingest import receiver as ingest
from query_api.keys import OPENAPI_KEY, RECENT_KEY, RETENTION_KEY, SETTINGS_KEY
from query_api.lifecycle import Lifecycle
from query_api.logs import schema, stats, views
from query_api.logs.recent import RecentCache
from query_api.ops import health, metrics_view, setup
from query_api.ops import openapi as ops_doc
from query_api.ops.metrics import http_metrics_middleware
from query_api.routing import Route, add_routes
from query_api.settings import ServiceSettings
from query_api.sql import endpoint as sql
from query_api.sql.slots import sql_context
from query_api.status import service_status as status
from query_api.ui import dashboard, detail, listing, signin, sql_page, static_files
from query_api.ui.render import setup_rendering, ui_context, viewer_root
from query_api.ui.settings import UiSettings

# Route(method, path, handler, OpenAPI operations, schemas they refer to, ...). aiohttp matches a plain
# path before a variable one, so `/request_logs/stats` and `/export` win over `/request_logs/{id}`.
ROUTES: tuple[Route, ...] = (
    # logs/: the request logs as DRF serves them (every method: DRF's views answer 405 themselves)
    Route("*", views.LIST_PATH, views.list_view, views.LIST_OPERATIONS, schema.SCHEMAS, slash_twin=True),
    Route("*", views.DETAIL_PATH, views.detail_view, views.DETAIL_OPERATIONS, slash_twin=True),
    # the OpenAPI document of this table
    Route("GET", openapi.OPENAPI_PATH, openapi.serve_document, openapi.OPERATIONS, allow_head=False),
    # ingest/: OTLP/HTTP trace ingest
    Route("POST", ingest.PATH, ingest.handle_traces, ingest_doc.OPERATIONS, ingest_doc.SCHEMAS),
    # sql/: analyst SQL; logs/: stats; housekeeping/: export and prune (all on the analysis threads)
    Route("POST", sql.PATH, sql.sql_query, sql.OPERATIONS, sql.SCHEMAS, slash_twin=True),
    Route("GET", stats.PATH, stats.get_stats, stats.OPERATIONS, stats.SCHEMAS, slash_twin=True, allow_head=False),
    Route("GET", export.PATH, export.export_logs, export.OPERATIONS, slash_twin=True, allow_head=False),
    Route("POST", prune.PATH, prune.prune_logs, prune.OPERATIONS, slash_twin=True),
    # status/: the service's counters
    Route("GET", status.PATH, status.service_status, status.OPERATIONS, status.SCHEMAS),
    # ops/: liveness and readiness (no token, no data), Prometheus metrics (3601 or a scrape network)
    Route("GET", health.HEALTH_PATH, health.healthz, ops_doc.HEALTH_OPERATIONS, ops_doc.SCHEMAS),
    Route("GET", health.READY_PATH, health.readyz, ops_doc.READY_OPERATIONS),
    Route("GET", metrics_view.PATH, metrics_view.metrics, ops_doc.METRICS_OPERATIONS),
    # ui/: the viewer (HTML pages, signed-in with a session cookie; not in the OpenAPI document)
    Route("GET", "/", viewer_root),
    Route("GET", "/ui", viewer_root),
    Route("GET", "/ui/", listing.list_page),
    Route("GET", "/ui/rows", listing.live_rows),
    Route("GET", "/ui/logs/{id}", detail.detail_page),
    Route("GET", "/ui/dashboard", dashboard.dashboard_page),
    Route("GET", "/ui/dashboard/series", dashboard.dashboard_series),
    Route("GET", "/ui/sql", sql_page.sql_form),
    Route("POST", "/ui/sql", sql_page.sql_run),
    Route("POST", "/ui/sql/download", sql_page.sql_download),
    Route("GET", signin.LOGIN_PATH, signin.login_form),
    Route("POST", signin.LOGIN_PATH, signin.login),
    Route("POST", signin.LOGOUT_PATH, signin.logout),
    Route("GET", static_files.PATH, static_files.static_file),
)

LIFECYCLE: tuple[Lifecycle, ...] = (
    lifecycle.store_context,  # first: every other resource reads or writes the store, so it closes last
    lifecycle.accounts_context,  # the token cache `auth.authorize` reads
    lifecycle.warm_recent_cache,  # the newest rows into the recent-rows cache, before any request
    ingest.ingest_context,  # the writer drains its queue into the store when the app stops, before the store closes
    sql_context,  # the analysis threads (SQL, stats, export, prune previews)
    retention_context,  # the daily retention job (when `retention_days` is set) and its thread
    setup.metrics_context,  # the writer's commit times into the metrics (the registry is made with the app)
    ui_context,  # the viewer's cookie-signing key (read or made beside the database)
    status.status_clock,  # last: the service counts as started once all of the above are up
)


# With the lake (docs/scale.md) a node takes a role: writers ingest, query nodes answer, one
# maintenance node keeps the lake tidy. `all` (the only role of the single file) does everything.
ROLE_PATHS: dict[str, frozenset[str]] = {
    "writer": frozenset({openapi.OPENAPI_PATH, ingest.PATH, status.PATH}),
    "query": frozenset(
        {openapi.OPENAPI_PATH, views.LIST_PATH, views.DETAIL_PATH, sql.PATH, stats.PATH, export.PATH, status.PATH}
        | {route.path for route in ROUTES if route.path == "/" or route.path.startswith("/ui")}  # the viewer
    ),
    "maintenance": frozenset({openapi.OPENAPI_PATH, status.PATH}),
}
ROLE_LIFECYCLE: dict[str, tuple[Lifecycle, ...]] = {
    "writer": (ingest.ingest_context,),
    "query": (sql_context, ui_context),
    "maintenance": (),
}
_SHARED_LIFECYCLE = (lifecycle.store_context, lifecycle.accounts_context, status.status_clock)


def routes_for(settings: ServiceSettings) -> tuple[Route, ...]:
    if settings.role == "all":
        return ROUTES
    return tuple(route for route in ROUTES if route.path in ROLE_PATHS[settings.role])


def lifecycle_for(settings: ServiceSettings) -> tuple[Lifecycle, ...]:
    contexts = LIFECYCLE
    if settings.role != "all":
        kept = (*_SHARED_LIFECYCLE, *ROLE_LIFECYCLE[settings.role])
        contexts = tuple(context for context in LIFECYCLE if context in kept)
    if settings.backend == "ducklake":
        contexts = tuple(context for context in contexts if context is not retention_context)
        if settings.role in ("maintenance", "all"):
            from query_api.housekeeping.lake_maintenance import maintenance_context

            contexts = (*contexts[:-1], maintenance_context, contexts[-1])  # before the status clock
    return contexts


def create_app(settings: ServiceSettings, ui_settings: UiSettings | None = None) -> web.Application:
    """The reqlog service as an aiohttp application (nothing is opened until it starts)."""
    # The metrics middleware outermost: it sees every answer, the error middleware's included.
    middlewares = [http_metrics_middleware, error_middleware]
    app = web.Application(middlewares=middlewares, client_max_size=settings.client_max_size)
    app[SETTINGS_KEY] = settings
    setup.add_metrics(app)
    app[RECENT_KEY] = RecentCache(settings.recent_cache_bytes)
    app[RETENTION_KEY] = RetentionState()
    routes = routes_for(settings)
    app[OPENAPI_KEY] = openapi.document_for(routes)
    app.on_response_prepare.append(_security_headers)
    setup_rendering(app, ui_settings or UiSettings())  # the viewer's templates and page headers
    add_routes(app, routes)
    app.cleanup_ctx.extend(lifecycle_for(settings))
    return app


# What Django's default middleware (SecurityMiddleware, XFrameOptionsMiddleware) adds to every answer.
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}


async def _security_headers(request: web.Request, response: web.StreamResponse) -> None:
    # A response-prepare signal, not a middleware: it also reaches streamed answers and the ones
    # aiohttp makes itself. `setdefault`, as Django does, so a handler's own value wins.
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
