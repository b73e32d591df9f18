"""Flask support: its exceptions, its URL rule and its user, for the span of the current request.

Flask answers a view's unhandled exception with its own 500 and announces it only through the
`got_request_exception` signal, so a WSGI middleware around `app.wsgi_app` never sees it raised.
`request_finished` is sent inside the request context once the response exists (for an error
response too): the moment to read `request.url_rule` and Flask-Login's `current_user`.
`RequestLogWSGIMiddleware` connects both when Flask is loaded; nothing else to set up.
"""

from __future__ import annotations

import sys
from typing import Any

from .exchange import current_exchange
from .identity import UserIdentity, user_from_object


def connect_signals() -> None:
    """Record Flask's unhandled exceptions, URL rules and users on the current request's span (idempotent)."""
    from flask import got_request_exception, request_finished

    got_request_exception.connect(_on_exception, weak=False)
    request_finished.connect(_on_finished, weak=False)


def _on_exception(sender: Any, exception: BaseException | None = None, **extra: Any) -> None:
    exchange = current_exchange.get()
    if exchange is not None and exception is not None:
        exchange.record_exception(exception)


def _on_finished(sender: Any, response: Any = None, **extra: Any) -> None:
    exchange = current_exchange.get()
    if exchange is None:
        return
    try:
        from flask import request

        rule = request.url_rule
        if rule is not None:
            exchange.route = f"{request.root_path}{rule.rule}"
        if exchange.framework_user is None:
            exchange.framework_user = _login_user(sender)
    except Exception as exc:  # never break the app's response
        exchange.capture_failed(exc)


def _login_user(app: Any) -> UserIdentity | None:
    """Flask-Login's `current_user`, when the app uses Flask-Login (it loads the user from the session)."""
    if "flask_login" not in sys.modules or getattr(app, "login_manager", None) is None:
        return None
    from flask_login import current_user

    return user_from_object(current_user._get_current_object())
