"""DRF token authentication and the request-log permission rules.

`authorize(request, permission)` does what DRF does for a view with `TokenAuthentication` and a
permission class: authenticate (401 with DRF's exact messages), then check the permission (403).
The lookup that follows is the view's business, so a missing row never leaks to an unauthorised
caller.

Tokens are checked by hash lookup in an in-memory snapshot of the accounts database
(`accounts.cache.AccountCache`), so the request path does no I/O.
"""

from __future__ import annotations

from aiohttp import web

from query_api.accounts.cache import AccountCache
from query_api.accounts.db import Account
from query_api.errors import AuthenticationFailed, NotAuthenticated, PermissionDenied
from query_api.keys import ACCOUNTS_KEY

PERM_VIEW_LOGS = 3601  # RequestLogPermission: retrieve and list request logs (staff + this, or admin)
PERM_INGEST = 3602  # send spans to POST /v1/traces
PERM_SQL = 3603  # run analyst SQL
_INVALID_CHARACTERS = "Invalid token header. Token string should not contain invalid characters."


def authenticate(header: str | None, cache: AccountCache) -> Account:
    """DRF's `TokenAuthentication` for an `Authorization` header value; raise the 401s it raises."""
    if header is None:
        raise NotAuthenticated()
    # aiohttp decodes header bytes as UTF-8 with surrogateescape: this gives back the bytes sent,
    # which DRF splits as bytes and whose token it decodes as UTF-8.
    try:
        parts = header.encode("utf-8", "surrogateescape").split()
    except UnicodeEncodeError:  # a lone surrogate that no header bytes can have produced
        raise AuthenticationFailed(_INVALID_CHARACTERS) from None
    if not parts or parts[0].lower() != b"token":
        raise NotAuthenticated()
    if len(parts) == 1:
        raise AuthenticationFailed("Invalid token header. No credentials provided.")
    if len(parts) > 2:
        raise AuthenticationFailed("Invalid token header. Token string should not contain spaces.")
    try:
        key = parts[1].decode("utf-8")
    except UnicodeDecodeError:
        raise AuthenticationFailed(_INVALID_CHARACTERS) from None
    account = cache.lookup(key)
    if account is None:
        raise AuthenticationFailed("Invalid token.")
    if not account.is_active:
        raise AuthenticationFailed("User inactive or deleted.")
    return account


def has_permission(account: Account, permission: int) -> bool:
    """The access rule: admins may do anything; request logs need staff plus 3601; others the code."""
    if not account.is_active:
        return False
    if account.is_superuser:
        return True
    if permission == PERM_VIEW_LOGS and not account.is_staff:
        return False
    return permission in account.permissions


async def authorize(request: web.Request, permission: int) -> Account:
    """Authenticate the request's token, then check `permission`; return the account.

    Raises `NotAuthenticated` / `AuthenticationFailed` (401) or `PermissionDenied` (403).
    """
    account = authenticate(request.headers.get("Authorization"), request.app[ACCOUNTS_KEY])
    if not has_permission(account, permission):
        raise PermissionDenied()
    return account
