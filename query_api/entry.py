"""The `reqlog` console script: says in one line when the service's packages are not installed.

An app installs plain `reqlog` (instrumentation and the OTLP exporter, no database); the service
and its commands need `reqlog[server]`. Without this check the first import of DuckDB or aiohttp
would end `reqlog` with a traceback. This module imports nothing of the service until the check
has passed (and `query_api/__init__.py` imports nothing eagerly).
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import sys
from collections.abc import Sequence

# Import names of the `server` extra's packages (pyproject.toml).
SERVER_MODULES = ("aiohttp", "duckdb", "pyarrow", "msgspec", "ua_parser", "prometheus_client")


def missing_server_modules() -> list[str]:
    """The `server` extra's modules this interpreter cannot import."""
    return [name for name in SERVER_MODULES if importlib.util.find_spec(name) is None]


def main(argv: Sequence[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else list(argv)
    if args == ["--version"]:  # answered by either install
        print(f"reqlog {_version()}")
        return 0
    missing = missing_server_modules()
    if missing:
        print(
            f"reqlog: the reqlog service is not installed here (missing: {', '.join(missing)}); "
            "install it with: pip install 'reqlog[server]'",
            file=sys.stderr,
        )
        return 1
    from .cli import main as cli_main

    return cli_main(args)


def _version() -> str:
    try:
        return importlib.metadata.version("reqlog")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


if __name__ == "__main__":
    sys.exit(main())
