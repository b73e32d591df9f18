"""What every example shares: build the provider from the environment and serve with uvicorn.

Two ways to send the logs, chosen by environment variables (see `instrumentation.configure`):

- to the reqlog service over OTLP/HTTP (the default; works with any number of workers):
  `REQLOG_ENDPOINT=http://127.0.0.1:8000 REQLOG_TOKEN=<token with permission 3602>`
- in-process, straight into a DuckDB file (one process only, and no service may hold the file):
  `REQLOG_EXPORTER=reqlog_duckdb REQLOG_DB=example.duckdb`
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import uvicorn
from opentelemetry.sdk.trace import TracerProvider

import instrumentation


def serve(build: Callable[[TracerProvider], Any], *, service_name: str) -> None:
    """Configure reqlog from the environment, build the app with that provider, and serve it."""
    provider = instrumentation.configure(service_name=service_name)
    port = int(os.environ.get("PORT", "8001"))
    try:
        uvicorn.run(build(provider), host="127.0.0.1", port=port, log_level="warning")
    finally:
        provider.shutdown()  # flushes the last batch before the process exits
