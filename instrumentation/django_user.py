"""A Django user's identity `(id, username, full_name)`, read as Django's own methods read it.

`RequestLogDjangoMiddleware` names the request's user on every request. `user_from_object` finds
it by probing: `is_authenticated`, `pk`, `get_username()`, `get_full_name()`, then the names other
frameworks use. On a Django model each of those is an attribute lookup along a long MRO and a
Python call, and the user is a new object every request (DRF's `TokenAuthentication` loads it with
the token), so nothing of it is warm. For a user model whose `pk`, `is_authenticated`,
`get_username` and `get_full_name` are Django's own (the stock `User`, and custom models derived
from `AbstractUser` that keep them), the same values are read from the instance's fields directly;
which fields those are is looked up once per class. Anything else (`AnonymousUser`, another user
model, an instance missing one of the fields because it was deferred) goes through
`user_from_object`, so the answer can only come out the same.
"""

from __future__ import annotations

from typing import Any

from .identity import UserIdentity, first_attr, text_or_none, user_from_object

_MAX_CLASSES = 32  # user classes remembered (a process has one or two)
_UNKNOWN = ("", "")
_fields: dict[type, tuple[str, str] | None] = {}  # user class -> (its pk's field, its username field)


def django_identity(user: Any) -> UserIdentity | None:
    """`user_from_object(user)`, read from the fields of a stock Django user model."""
    kind = type(user)
    fields = _fields.get(kind, _UNKNOWN)
    if fields is _UNKNOWN:
        fields = _stock_fields(kind)
        if len(_fields) < _MAX_CLASSES:
            _fields[kind] = fields
    if fields is None:
        return user_from_object(user)
    values = user.__dict__
    pk_field, username_field = fields
    try:
        user_id, username = values[pk_field], values[username_field]
        first_name, last_name = values["first_name"], values["last_name"]
    except KeyError:  # a deferred field: reading it through the model loads it from the database
        return user_from_object(user)
    if user_id is None or not username:
        return user_from_object(user)
    # As `AbstractUser.get_full_name` joins them; with no names, as `user_from_object` falls back.
    full_name = f"{first_name} {last_name}".strip() or text_or_none(first_attr(user, ("full_name", "display_name")))
    # `text_or_none` of the id and username, both checked above to be set.
    return str(user_id) or None, str(username), full_name


def _stock_fields(kind: type) -> tuple[str, str] | None:
    """(pk field, username field) of a user model whose identity methods are Django's own, else `None`."""
    try:
        from django.contrib.auth.base_user import AbstractBaseUser
        from django.contrib.auth.models import AbstractUser
        from django.db.models import Model
    except Exception:  # `django.contrib.auth` not installed: no stock user model in this process
        return None
    if not issubclass(kind, AbstractUser):
        return None
    expected = {"pk": Model, "is_authenticated": AbstractBaseUser, "get_username": AbstractBaseUser}
    expected["get_full_name"] = AbstractUser
    if any(_owner(kind, name) is not owner for name, owner in expected.items()):
        return None
    meta: Any = getattr(kind, "_meta", None)
    pk, username_field = getattr(getattr(meta, "pk", None), "attname", None), getattr(kind, "USERNAME_FIELD", None)
    if not isinstance(pk, str) or not isinstance(username_field, str):
        return None
    return pk, username_field


def _owner(kind: type, name: str) -> type | None:
    """The class along `kind`'s MRO that defines `name`."""
    return next((base for base in kind.__mro__ if name in vars(base)), None)
