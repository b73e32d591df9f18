"""Who an authenticated user object names: `(id, username, full_name)` read the same way everywhere.

Pure functions with no imports from the rest of the package, so the exchange, `set_user` and the
framework hooks can all use them without importing each other.
"""

from __future__ import annotations

from typing import Any

UserIdentity = tuple[str | None, str | None, str | None]


def user_from_object(user: Any) -> UserIdentity | None:
    """(id, username, full_name) of an authenticated user object, or `None` for anonymous.

    Understands Django users (`pk`, `get_username()`, `get_full_name()`), Starlette users
    (`identity`, `username` or `display_name`) and plain objects with `id`/`username`/`full_name`.
    """
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    user_id = first_attr(user, ("pk", "id", "identity"))
    username = _call_or_attr(user, "get_username") or first_attr(user, ("username", "display_name"))
    full_name = _call_or_attr(user, "get_full_name") or first_attr(user, ("full_name", "display_name"))
    if user_id is None and username is None:
        return None
    return text_or_none(user_id), text_or_none(username), text_or_none(full_name)


def text_or_none(value: Any) -> str | None:
    """A user field as span text: `None` and the empty string both mean "not known"."""
    if value is None:
        return None
    text = value if isinstance(value, str) else str(value)
    return text or None


def first_attr(obj: Any, names: tuple[str, ...]) -> Any:
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
