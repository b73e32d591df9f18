"""The environment a test hands a child process: the test run's own, minus every `REQLOG_*` and `OTEL_*`.

The suite must pass whatever the developer's shell holds (`REQLOG_URL` of a real service, an
`OTEL_EXPORTER_OTLP_ENDPOINT`, `OTEL_SDK_DISABLED`), and no test may reach a service it did not
start. `tests/conftest.py` removes these variables from `os.environ` as the suite starts and again
for every test; a child process gets `clean_environ(...)` as well, so it stays clean even when
started from a fixture of a wider scope or after a test set one on purpose.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

PREFIXES = ("REQLOG_", "OTEL_")


def is_ours(name: str) -> bool:
    """Whether the variable `name` configures reqlog or OpenTelemetry (and so must not leak into a test)."""
    return name.upper().startswith(PREFIXES)


def clean_environ(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """`os.environ` without `REQLOG_*`/`OTEL_*`, plus `extra` (the variables the test means to set)."""
    environ = {name: value for name, value in os.environ.items() if not is_ours(name)}
    environ.update(extra or {})
    return environ
