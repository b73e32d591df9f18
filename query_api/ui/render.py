"""Rendering pages: Jinja2 (autoescaped) through aiohttp-jinja2, the security headers, and error pages.

Every value a page shows came from strangers (paths, headers, bodies, user names), so templates are
autoescaped and no page runs inline script: the Content-Security-Policy below allows scripts and
styles from the service's own `/ui/static/` only, no `eval`, no framing. `page` wraps a handler so
that a missing session redirects to the sign-in form and an API error (403, 404, 400, 429) becomes a
plain page with the API's message, never a stack trace.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any
from urllib.parse import quote

import aiohttp_jinja2
import jinja2
from aiohttp import web

from query_api.errors import ApiError, ValidationError
from query_api.keys import SETTINGS_KEY, UI_KEY, UI_SETTINGS_KEY

from .access import SignInNeeded, current_viewer
from .formatting import register_filters
from .secret import load_secret
from .settings import UiSettings
from .state import UiState

logger = logging.getLogger("reqlog.ui")
UI_PREFIX = "/ui"
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "font-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",  # pages hold request logs: not for shared caches or the back-forward disk cache
}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def setup_rendering(app: web.Application, settings: UiSettings) -> None:
    """The viewer's templates (autoescaped), their filters, its page headers and its settings, on `app`."""
    environment = aiohttp_jinja2.setup(
        app,
        loader=jinja2.PackageLoader("query_api.ui", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    register_filters(environment)
    app.on_response_prepare.append(_ui_headers)
    app[UI_SETTINGS_KEY] = settings


async def ui_context(app: web.Application) -> AsyncIterator[None]:
    """The viewer's state: the cookie-signing key, read (or made) when the app starts."""
    settings = app[UI_SETTINGS_KEY]
    key = await asyncio.to_thread(load_secret, app[SETTINGS_KEY].db, settings.ui_secret)
    app[UI_KEY] = UiState(settings, key)
    yield


async def viewer_root(request: web.Request) -> web.StreamResponse:
    """`/` and `/ui`: the viewer's list."""
    raise web.HTTPFound(UI_PREFIX + "/")


async def _ui_headers(request: web.Request, response: web.StreamResponse) -> None:
    if request.path == "/" or request.path.startswith(UI_PREFIX):
        for name, value in _HEADERS.items():
            if name == "Cache-Control" and request.path.startswith(UI_PREFIX + "/static/"):
                continue
            response.headers.setdefault(name, value)


def render(request: web.Request, template: str, context: dict[str, Any], *, status: int = 200) -> web.Response:
    context.setdefault("viewer", current_viewer(request))
    return aiohttp_jinja2.render_template(template, request, context, status=status)


def error_page(request: web.Request, status: int, title: str, message: str) -> web.Response:
    return render(request, "error.html", {"title": title, "message": message}, status=status)


def redirect(location: str) -> web.Response:
    """A 303 to `location` (a response to return, where raising would skip setting cookies)."""
    return web.Response(status=303, headers={"Location": location})


def sign_in_redirect(request: web.Request) -> web.HTTPFound:
    return web.HTTPFound(f"{UI_PREFIX}/login?next={quote(str(request.rel_url), safe='')}")


def page(handler: Handler) -> Handler:
    """Turn a missing session into the sign-in redirect and API errors into plain error pages."""

    @functools.wraps(handler)
    async def wrapped(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except SignInNeeded:
            raise sign_in_redirect(request) from None
        except ValidationError as error:
            problems = "; ".join(f"{name}: {' '.join(messages)}" for name, messages in error.errors.items())
            return error_page(request, 400, "Invalid input", problems)
        except ApiError as error:
            title = {403: "Not allowed", 404: "Not found", 429: "Busy"}.get(error.status, "Error")
            response = error_page(request, error.status, title, error.detail)
            response.headers.update(error.headers)
            return response
        except web.HTTPException:
            raise
        except Exception:
            logger.exception("unhandled error in %s %s", request.method, request.path)
            return error_page(request, 500, "Server error", "A server error occurred; it has been logged.")

    return wrapped
