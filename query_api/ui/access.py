"""Who is looking: the session cookie -> an account, with the API's own permission rule.

`viewer(request, permission)` reads and checks the session (signature, expiry, sign-out, the account
still active, a token-opened session's token not revoked), then applies `auth.has_permission`, so a
page needs exactly what the matching API endpoint needs: 3601 (staff) or admin for logs, 3603 or
admin for SQL. No session: `SignInNeeded` (the page redirects to the sign-in form); a session
without the permission: `PermissionDenied`, shown as a plain page.
"""

from __future__ import annotations

import dataclasses
import time

from aiohttp import web

from exporter.errors import RequestLogError
from query_api.accounts.db import Account
from query_api.auth import PERM_SQL, PERM_VIEW_LOGS, has_permission
from query_api.errors import PermissionDenied
from query_api.keys import ACCOUNTS_KEY, UI_KEY

from .session import SESSION_COOKIE, Session, csrf_token, csrf_valid, decode_session


class SignInNeeded(RequestLogError):
    """No valid session: the caller is sent to the sign-in form."""


@dataclasses.dataclass(frozen=True, slots=True)
class Viewer:
    account: Account
    session: Session
    csrf: str  # the CSRF token every form of this session carries

    @property
    def can_view_logs(self) -> bool:
        return has_permission(self.account, PERM_VIEW_LOGS)

    @property
    def can_sql(self) -> bool:
        return has_permission(self.account, PERM_SQL)


def current_viewer(request: web.Request) -> Viewer | None:
    """The signed-in viewer, or `None`."""
    state = request.app[UI_KEY]
    session = decode_session(state.key, request.cookies.get(SESSION_COOKIE), time.time())
    if session is None or state.is_signed_out(session.session_id):
        return None
    accounts = request.app[ACCOUNTS_KEY]
    account = accounts.account(session.account_id)
    if account is None or not account.is_active:
        return None
    if session.token_hash is not None and not accounts.has_token_hash(session.token_hash):
        return None
    return Viewer(account, session, csrf_token(state.key, session.session_id))


def viewer(request: web.Request, permission: int | None = PERM_VIEW_LOGS) -> Viewer:
    """The signed-in viewer holding `permission` (`None`: any signed-in account)."""
    found = current_viewer(request)
    if found is None:
        raise SignInNeeded()
    if permission is not None and not has_permission(found.account, permission):
        raise PermissionDenied()
    return found


async def check_csrf(request: web.Request, found: Viewer) -> dict[str, str]:
    """The posted form, after checking its CSRF token and origin; `PermissionDenied` when they fail."""
    form = await request.post()
    origin = request.headers.get("Origin")
    if origin is not None and origin != f"{request.scheme}://{request.host}" and origin != _forwarded_origin(request):
        raise PermissionDenied("CSRF check failed: the form came from another site.")
    if not csrf_valid(request.app[UI_KEY].key, found.session.session_id, form.get("csrf")):
        raise PermissionDenied("CSRF check failed: reload the page and try again.")
    return {name: value for name, value in form.items() if isinstance(value, str)}


def is_https(request: web.Request) -> bool:
    """Whether the browser reached us over https (directly, or through a proxy that says so)."""
    return request.secure or request.headers.get("X-Forwarded-Proto", "").lower() == "https"


def _forwarded_origin(request: web.Request) -> str | None:
    proto = request.headers.get("X-Forwarded-Proto")
    host = request.headers.get("X-Forwarded-Host", request.host)
    return f"{proto}://{host}" if proto else None
