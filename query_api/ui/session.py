"""Signed session cookies and the CSRF tokens derived from them. Pure functions of a key and a clock.

A cookie is `<payload>.<signature>`: the payload is base64url JSON `{"a": account id, "t": token
hash or null, "s": session id, "e": expiry (unix seconds)}`, the signature its HMAC-SHA256 under the
service's key. Nothing in it is secret (a token's SHA-256 gives no token back), but nothing in it can
be changed without the key. A session opened with a token names that token's hash, so revoking the
token ends the session; an expired, tampered or signed-out cookie is no session.

CSRF: every form carries `csrf_token(key, session id)`, an HMAC the page has and another site cannot
compute; the sign-in form, before any session, uses the random id of a short-lived pre-session cookie.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import hmac
import secrets

import orjson

SESSION_COOKIE = "reqlog_session"
LOGIN_COOKIE = "reqlog_login"  # the pre-session id the sign-in form's CSRF token is bound to
_MAX_COOKIE = 1024


@dataclasses.dataclass(frozen=True, slots=True)
class Session:
    account_id: int
    token_hash: str | None
    session_id: str
    expires: int

    def encode(self, key: bytes) -> str:
        payload = {"a": self.account_id, "t": self.token_hash, "s": self.session_id, "e": self.expires}
        body = base64.urlsafe_b64encode(orjson.dumps(payload)).decode("ascii").rstrip("=")
        return f"{body}.{_sign(key, b'session|' + body.encode('ascii'))}"


def new_session(account_id: int, token_hash: str | None, now: float, lifetime_seconds: float) -> Session:
    return Session(account_id, token_hash, secrets.token_urlsafe(18), int(now + lifetime_seconds))


def decode_session(key: bytes, cookie: str | None, now: float) -> Session | None:
    """The session in `cookie` if its signature holds and it has not expired, else `None`."""
    if not cookie or len(cookie) > _MAX_COOKIE or cookie.count(".") != 1:
        return None
    body, signature = cookie.split(".")
    if not hmac.compare_digest(signature, _sign(key, b"session|" + body.encode("ascii", "replace"))):
        return None
    try:
        payload = orjson.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        session = Session(int(payload["a"]), payload["t"], str(payload["s"]), int(payload["e"]))
    except (binascii.Error, orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return None
    return session if session.expires > now else None


def csrf_token(key: bytes, bound_to: str) -> str:
    """The CSRF token for forms of the session (or pre-session) with id `bound_to`."""
    return _sign(key, b"csrf|" + bound_to.encode("utf-8", "replace"))


def csrf_valid(key: bytes, bound_to: str | None, presented: object) -> bool:
    if not bound_to or not isinstance(presented, str):
        return False
    return hmac.compare_digest(presented.encode("utf-8", "replace"), csrf_token(key, bound_to).encode("ascii"))


def new_login_id() -> str:
    return secrets.token_urlsafe(18)


def _sign(key: bytes, message: bytes) -> str:
    digest = hmac.new(key, message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")
