"""Flush the last batch when a server ends the process with a signal it re-raises.

The SDK's TracerProvider flushes at interpreter exit (`atexit`), which covers gunicorn's sync and
gthread workers: they exit normally on SIGTERM, SIGHUP reload and `max_requests` retirement. A
uvicorn server does not: after its graceful shutdown it re-raises the signal it caught under the
handler that was there before it started, and with the default action the process dies without
running `atexit`, losing up to `OTEL_BSP_SCHEDULE_DELAY` (5 s) of requests. gunicorn's uvicorn
worker resets SIGTERM to the default before it loads the app, so `configure()`, run while the app
is imported, installs a handler in front: it flushes the provider, then does what the previous
handler would have done (call it, or die by the default action). uvicorn saves it as "the handler
before" and re-raises into it once every request has finished, so nothing is lost.

Only the main thread may set signal handlers; elsewhere this does nothing and `atexit` remains.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType
from typing import Any

from opentelemetry.sdk.trace import TracerProvider

_SIGNALS = (signal.SIGTERM,)


def flush_on_termination(provider: TracerProvider) -> bool:
    """Chain a flush of `provider` in front of the current SIGTERM handler; `False` off the main thread."""
    if threading.current_thread() is not threading.main_thread():
        return False
    for signum in _SIGNALS:
        _install(signum, provider)
    return True


def _install(signum: int, provider: TracerProvider) -> None:
    previous: Any = signal.getsignal(signum)

    def flush_then_previous(received: int, frame: FrameType | None) -> None:
        try:
            provider.force_flush()
        except Exception:  # never stand between the process and its exit
            pass
        if callable(previous):
            previous(received, frame)
        elif previous != signal.SIG_IGN:  # the default action (or a handler not set from Python)
            signal.signal(received, signal.SIG_DFL)
            signal.raise_signal(received)

    signal.signal(signum, flush_then_previous)
