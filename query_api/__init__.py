"""reqlog's service: the DRF-compatible request-log API, accounts and tokens, the `reqlog` command.

`create_app` and `ServiceSettings` are imported on first use, so that `reqlog` (`entry.py`) can
tell a user without the `server` extra what to install, in one line, before anything imports aiohttp.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .app import create_app
    from .settings import ServiceSettings

__all__ = ["ServiceSettings", "create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from .app import create_app

        return create_app
    if name == "ServiceSettings":
        from .settings import ServiceSettings

        return ServiceSettings
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
