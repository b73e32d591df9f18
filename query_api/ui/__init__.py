"""The viewer: request logs in the browser, served by the service itself under `/ui/`.

Server-rendered pages (Jinja2, autoescaped) with a little plain JavaScript from `static/`; sign-in
with a password or an API token into a signed session cookie; the API's own permissions, filters,
pages, stats and SQL sandbox. `setup_ui(app, settings)` registers it all; `docs/ui.md` describes it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import web

from ..keys import SETTINGS_KEY
from . import dashboard, detail, listing, signin, sql_page
from .formatting import register_filters
from .render import UI_PREFIX, setup_templates
from .secret import load_secret
from .settings import UiSettings
from .state import UI_KEY, UiState

STATIC_DIR = Path(__file__).parent / "static"


def setup_ui(app: web.Application, settings: UiSettings | None = None) -> None:
    """Register the viewer's routes, templates and signing key on `app`."""
    ui_settings = settings or UiSettings()
    environment = setup_templates(app)
    register_filters(environment)

    async def load_key(app: web.Application) -> None:
        app[UI_KEY] = UiState(ui_settings, load_secret(app[SETTINGS_KEY].db, ui_settings.secret))

    app.on_startup.append(load_key)
    routes: list[tuple[str, str, Callable[[web.Request], Awaitable[web.StreamResponse]]]] = [
        ("GET", "/", _to_viewer),
        ("GET", UI_PREFIX, _to_viewer),
        ("GET", UI_PREFIX + "/", listing.list_page),
        ("GET", UI_PREFIX + "/rows", listing.live_rows),
        ("GET", UI_PREFIX + "/logs/{id}", detail.detail_page),
        ("GET", UI_PREFIX + "/dashboard", dashboard.dashboard_page),
        ("GET", UI_PREFIX + "/dashboard/series", dashboard.dashboard_series),
        ("GET", UI_PREFIX + "/sql", sql_page.sql_form),
        ("POST", UI_PREFIX + "/sql", sql_page.sql_run),
        ("POST", UI_PREFIX + "/sql/download", sql_page.sql_download),
        ("GET", signin.LOGIN_PATH, signin.login_form),
        ("POST", signin.LOGIN_PATH, signin.login),
        ("POST", signin.LOGOUT_PATH, signin.logout),
    ]
    for method, path, handler in routes:
        app.router.add_route(method, path, handler)
    app.router.add_static(UI_PREFIX + "/static/", STATIC_DIR, append_version=False)


async def _to_viewer(request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound(UI_PREFIX + "/")


__all__ = ["UiSettings", "setup_ui"]
