"""Whether this test run requires the compiled C speedups, and the marker of the tests that need them.

The C extension is optional at install time (pyproject.toml): without a C compiler reqlog runs the
Python references of its fast paths, and a contributor without one must still get a passing suite.
So the test that insists the extension was built runs only when `REQLOG_REQUIRE_SPEEDUPS=1`, which
`make test` sets where a C compiler is on PATH and `.ci/run` always sets; the tests that call the C
functions directly are skipped when it is missing, and `tests/conftest.py` says so in the run's
header and summary. Read once, as `tests/conftest.py` imports this module, before the suite
removes every `REQLOG_*` variable: this one configures the test run, not reqlog.
"""

from __future__ import annotations

import os

import pytest

from exporter import speedups

REQUIRED = os.environ.get("REQLOG_REQUIRE_SPEEDUPS") == "1"
COMPILED = speedups.COMPILED
C_ONLY = pytest.mark.skipif(not COMPILED, reason="the C speedups are not compiled (no C compiler at install)")


def notice() -> str:
    """One line on the C speedups for the run's header and summary."""
    if COMPILED:
        return "reqlog C speedups: compiled" + (" (required: REQLOG_REQUIRE_SPEEDUPS=1)" if REQUIRED else "")
    if REQUIRED:
        return "reqlog C speedups: NOT compiled, but REQLOG_REQUIRE_SPEEDUPS=1 requires them"
    return (
        "reqlog C speedups: not compiled (no C compiler at install), so their tests were skipped and "
        "only the Python references ran; install a C compiler, then `make clean test`"
    )
