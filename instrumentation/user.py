"""Who made the request: `set_user()` from a handler, a resolver, or an authenticated `scope["user"]`.

The middleware keeps the exchange being served in a context variable (`exchange.current_exchange`),
so `set_user` reaches it from the handler's task, from child tasks and from threads that copied the
context (Starlette's thread pool, Django's `sync_to_async`); it never touches whichever span happens
to be current. Identity is read once, when the app is done, so a user authenticated during the
request is seen.
"""

from __future__ import annotations

from typing import Any

from .exchange import current_exchange
from .identity import text_or_none


def set_user(id: Any, username: Any = None, full_name: Any = None) -> bool:
    """Attribute the current request to this user (overrides `scope["user"]` and the resolver).

    Callable from a request handler, sync or async. Returns `False` when no request is being
    instrumented here (outside the middleware, or the URL is excluded).
    """
    exchange = current_exchange.get()
    if exchange is None:
        return False
    exchange.explicit_user = (text_or_none(id), text_or_none(username), text_or_none(full_name))
    return True
