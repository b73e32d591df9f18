"""The root of reqlog's error family, here because every package may import `instrumentation`.

Imports flow one way (instrumentation <- exporter <- query_api), so the one class every reqlog
error derives from lives in the lowest package: `exporter.errors` and `query_api.errors` build
their families on it, and `instrumentation.OptionError` is a `ConfigError` too.
"""

from __future__ import annotations


class RequestLogError(Exception):
    """Base class of every reqlog error."""


class ConfigError(RequestLogError, ValueError):
    """A setting has an invalid value; `name` is the setting (or its environment variable)."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(f"{name}: {message}")
        self.name = name
        self.message = message
