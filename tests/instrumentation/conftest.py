"""Hermetic instrumentation tests: no `REQLOG_*` or `OTEL_*` variable of the developer's (or CI's) reaches them.

`configure()` is given `environ=` in these tests, but the OTel SDK and the OTLP exporter still read
their own `OTEL_*` variables from `os.environ` (span limits, resource, exporter timeout, compression,
certificates); subprocesses get a cleaned environment from `processes.clean_env`.
"""

from __future__ import annotations

import os

import pytest


@pytest.fixture(autouse=True)
def _no_reqlog_or_otel_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith(("REQLOG_", "OTEL_")):
            monkeypatch.delenv(name)
