"""The framework hooks a middleware connects when their framework is loaded in the process.

Django and Flask answer a view's exception with their own 500 and announce it only through a
signal, so neither middleware would see it raised. Connecting is idempotent and needs no settings;
a framework that is not imported is never imported here.
"""

from __future__ import annotations

import sys


def connect_loaded(*, flask: bool) -> None:
    """Connect Django's signals when Django is loaded, and Flask's when asked (WSGI only) and loaded."""
    if "django" in sys.modules:
        from .django_hooks import connect_signals

        connect_signals()
    if flask and "flask" in sys.modules:
        from .flask_hooks import connect_signals as connect_flask

        connect_flask()
