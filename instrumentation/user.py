"""Who made the request: `set_user()` from a handler, a resolver, or an authenticated `scope["user"]`.

The middleware keeps the exchange being served in a context variable, so `set_user` reaches it from
the handler's task, from child tasks and from threads that copied the context (Starlette's thread
pool, Django's `sync_to_async`); it never touches whichever span happens to be current. Identity is
read once, when the app is done, so a user authenticated during the request is seen.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .exchange import Exchange

current_exchange: ContextVar[Exchange | None] = ContextVar("reqlog_exchange", default=None)


def set_user(id: Any, username: Any = None, full_name: Any = None) -> bool:
    """Attribute the current request to this user (overrides `scope["user"]` and the resolver).

    Callable from a request handler, sync or async. Returns `False` when no request is being
    instrumented here (outside the middleware, or the URL is excluded).
    """
    exchange = current_exchange.get()
    if exchange is None:
        return False
    exchange.explicit_user = (_text(id), _text(username), _text(full_name))
    return True


def user_from_object(user: Any) -> tuple[str | None, str | None, str | None] | None:
    """(id, username, full_name) of an authenticated user object, or `None` for anonymous.

    Understands Django users (`pk`, `get_username()`, `get_full_name()`), Starlette users
    (`identity`, `username` or `display_name`) and plain objects with `id`/`username`/`full_name`.
    """
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    user_id = _first_attr(user, ("pk", "id", "identity"))
    username = _call_or_attr(user, "get_username") or _first_attr(user, ("username", "display_name"))
    full_name = _call_or_attr(user, "get_full_name") or _first_attr(user, ("full_name", "display_name"))
    if user_id is None and username is None:
        return None
    return _text(user_id), _text(username), _text(full_name)


def _first_attr(obj: Any, names: tuple[str, ...]) -> Any:
    for name in names:
        try:
            value = getattr(obj, name, None)
        except NotImplementedError:  # Starlette's BaseUser.identity
            continue
        if value is not None and not callable(value):
            return value
    return None


def _call_or_attr(obj: Any, name: str) -> Any:
    method = getattr(obj, name, None)
    return method() if callable(method) else None


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = value if isinstance(value, str) else str(value)
    return text or None
