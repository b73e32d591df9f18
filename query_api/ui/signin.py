"""Sign-in (a password set with `reqlog account password NAME`, or an API token) and sign-out.

The token or password travels in a POST body only, never in a URL. The sign-in form's CSRF token is
bound to a short-lived pre-session cookie; after sign-in the session cookie is `HttpOnly`,
`SameSite=Strict`, `Secure` when the browser came over https, and lasts `session_hours`.
"""

from __future__ import annotations

import asyncio
import time

from aiohttp import web

from query_api.accounts.db import Account, hash_token
from query_api.accounts.pg import open_accounts
from query_api.keys import ACCOUNTS_KEY, SETTINGS_KEY, UI_KEY
from query_api.settings import ServiceSettings

from .access import check_csrf, current_viewer, is_https, viewer
from .passwords import verify_password
from .render import UI_PREFIX, page, redirect, render
from .session import LOGIN_COOKIE, SESSION_COOKIE, csrf_token, csrf_valid, new_login_id, new_session

LOGIN_PATH = UI_PREFIX + "/login"
LOGOUT_PATH = UI_PREFIX + "/logout"
_LOGIN_COOKIE_SECONDS = 3600
_FAILED = "Wrong username or password, or an unknown token."


def safe_next(raw: str | None) -> str:
    """Where to go after signing in: a path of the viewer only (never another site)."""
    if raw and raw.startswith(UI_PREFIX + "/") and not raw.startswith("//") and "\\" not in raw:
        return raw
    return UI_PREFIX + "/"


def _cookie_options(request: web.Request) -> dict[str, object]:
    return {"httponly": True, "samesite": "Strict", "secure": is_https(request), "path": "/"}


@page
async def login_form(request: web.Request) -> web.StreamResponse:
    next_url = safe_next(request.query.get("next"))
    if current_viewer(request) is not None:
        raise web.HTTPFound(next_url)
    return _form(request, next_url, error=None, status=200)


def _form(request: web.Request, next_url: str, *, error: str | None, status: int, username: str = "") -> web.Response:
    login_id = new_login_id()
    context = {
        "csrf": csrf_token(request.app[UI_KEY].key, login_id),
        "next": next_url,
        "error": error,
        "username": username,
        "viewer": None,
    }
    response = render(request, "login.html", context, status=status)
    response.set_cookie(LOGIN_COOKIE, login_id, max_age=_LOGIN_COOKIE_SECONDS, **_cookie_options(request))  # type: ignore[arg-type]
    return response


@page
async def login(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    next_url = safe_next(str(form.get("next", "")))
    state = request.app[UI_KEY]
    if not csrf_valid(state.key, request.cookies.get(LOGIN_COOKIE), form.get("csrf")):
        return _form(request, next_url, error="The form expired: please sign in again.", status=403)
    username, password, token = (str(form.get(name, "")) for name in ("username", "password", "token"))
    token = token.strip()
    account: Account | None
    token_hash = None
    if token:
        account = request.app[ACCOUNTS_KEY].lookup(token)
        token_hash = hash_token(token)
    else:
        async with state.password_checks:
            account = await asyncio.to_thread(_check_password, request.app[SETTINGS_KEY], username, password)
    if account is None or not account.is_active:
        return _form(request, next_url, error=_FAILED, status=400, username=username)
    lifetime = state.settings.ui_session_hours * 3600
    session = new_session(account.id, token_hash, time.time(), lifetime)
    response = redirect(next_url)
    response.set_cookie(SESSION_COOKIE, session.encode(state.key), max_age=int(lifetime), **_cookie_options(request))  # type: ignore[arg-type]
    response.del_cookie(LOGIN_COOKIE, path="/")
    return response


def _check_password(settings: ServiceSettings, username: str, password: str) -> Account | None:
    with open_accounts(settings) as db:
        found = db.password_hash(username) if username else None
    stored = found[1] if found is not None else None
    if not verify_password(password, stored) or found is None:
        return None
    return found[0]


@page
async def logout(request: web.Request) -> web.StreamResponse:
    found = viewer(request, permission=None)
    await check_csrf(request, found)
    request.app[UI_KEY].sign_out(found.session.session_id, found.session.expires)
    response = redirect(LOGIN_PATH)
    response.del_cookie(SESSION_COOKIE, path="/")
    return response
