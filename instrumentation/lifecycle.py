"""Flushing the span queue when the app stops, without user code.

Finished requests wait in the BatchSpanProcessor's queue for up to its schedule delay. A process that
exits normally flushes them (the SDK's `atexit` hook), but uvicorn, after its graceful shutdown,
restores the default SIGTERM handler and re-raises the signal: the process dies without `atexit`
and the queue is lost (docs/instrumentation.md, "Stopping the app"). Two hooks close that gap:

- ASGI lifespan. uvicorn, gunicorn's uvicorn workers and hypercorn send `lifespan.shutdown` once
  every connection has finished. The middleware flushes there, and again before forwarding the
  app's `lifespan.shutdown.complete`. An app that refuses lifespan scopes (Django's handler raises)
  would leave the server without the event, so the middleware speaks the protocol for it.
- A chained SIGTERM handler, installed by `configure()`, for servers run without lifespan. It only
  acts when the handler it replaced was the default one (the process was about to die): it shuts
  the providers down, then re-raises with the default handler so the exit status is unchanged. A
  server's own handler is called as before.

Flushing only exports; it never shuts a provider down on lifespan, so an app can be started and
stopped again in one process (test clients do so).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import threading
import weakref
from collections.abc import Awaitable, Callable, MutableMapping
from types import FrameType
from typing import Any, Protocol

logger = logging.getLogger("reqlog.instrumentation")

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[MutableMapping[str, Any], Receive, Send], Awaitable[None]]

# The longest a shutdown waits for the flush: the SDK's own bound on a processor's shutdown.
FLUSH_TIMEOUT_S = 30.0


class Flushable(Protocol):
    def force_flush(self, timeout_millis: int = ...) -> bool: ...

    def shutdown(self) -> None: ...


_configured: weakref.WeakSet[Any] = weakref.WeakSet()  # providers configure() made, in this process
_hooked: set[int] = set()  # signals whose handler is already chained


def register(provider: Flushable) -> None:
    """Remember a provider `configure()` made: every stop hook flushes it."""
    _configured.add(provider)
    install_signal_hook()


def providers(extra: object | None = None) -> list[Flushable]:
    """The providers to flush: `extra` (the middleware's own, if it can flush) and `configure()`'s."""
    found: list[Flushable] = []
    if extra is not None and callable(getattr(extra, "force_flush", None)):
        found.append(extra)  # type: ignore[arg-type]
    found.extend(p for p in list(_configured) if all(p is not f for f in found))
    return found


def flush(targets: list[Flushable]) -> None:
    """Export everything queued; never raises (a failing exporter must not stop the shutdown)."""
    for provider in targets:
        try:
            provider.force_flush()
        except Exception:
            logger.exception("reqlog: flushing request logs at shutdown failed")


async def flush_async(targets: list[Flushable], timeout: float = FLUSH_TIMEOUT_S) -> None:
    """`flush` on a daemon thread, awaited up to `timeout`: the loop keeps serving (an exporter may
    post to a server on this very loop), and a hung exporter cannot hold the process forever (a
    default-executor thread would: `asyncio.run` waits for those at exit)."""
    if not targets:
        return
    loop = asyncio.get_running_loop()
    done: asyncio.Future[None] = loop.create_future()

    def finished() -> None:
        if not done.done():  # a timed-out wait has cancelled it
            done.set_result(None)

    def run() -> None:
        try:
            flush(targets)
        finally:
            with contextlib.suppress(RuntimeError):  # the loop closed after a timed-out wait
                loop.call_soon_threadsafe(finished)

    threading.Thread(target=run, name="reqlog-flush", daemon=True).start()
    try:
        await asyncio.wait_for(done, timeout)
    except TimeoutError:
        logger.error("reqlog: request logs still unsent after %.0f s at shutdown; giving up", timeout)


async def lifespan(app: ASGIApp, scope: MutableMapping[str, Any], receive: Receive, send: Send, extra: object) -> None:
    """Run `app`'s lifespan, flushing at shutdown; speak the protocol for an app that refuses it."""
    received = False

    async def receiving() -> Message:
        nonlocal received
        message = await receive()
        received = True
        if message.get("type") == "lifespan.shutdown":
            await flush_async(providers(extra))  # every request has finished: export them now
        return message

    async def sending(message: Message) -> None:
        if message.get("type") in ("lifespan.shutdown.complete", "lifespan.shutdown.failed"):
            await flush_async(providers(extra))  # and whatever the app's own shutdown recorded
        await send(message)

    try:
        await app(scope, receiving, sending)
    except Exception:
        if received:
            raise  # the app speaks lifespan and failed in it: the server reports that
        logger.debug("reqlog: the app refuses lifespan scopes; answering them for it", exc_info=True)
    else:
        if received:
            return
    # The app raised or returned without reading a message: it does not do lifespan (Django's
    # ASGIHandler raises). Answer for it, so the server still tells us when it stops.
    await _answer_lifespan(receive, send, extra)


async def _answer_lifespan(receive: Receive, send: Send, extra: object) -> None:
    while True:
        message = await receive()
        kind = message.get("type")
        if kind == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif kind == "lifespan.shutdown":
            await flush_async(providers(extra))
            await send({"type": "lifespan.shutdown.complete"})
            return


def install_signal_hook(signum: int = signal.SIGTERM) -> None:
    """Chain a handler for `signum` in front of the current one (main thread only; once)."""
    if signum in _hooked or threading.current_thread() is not threading.main_thread():
        return
    previous = signal.getsignal(signum)

    def on_signal(sig: int, frame: FrameType | None) -> None:
        if callable(previous):
            previous(sig, frame)  # a server's own handler: it shuts down gracefully, lifespan flushes
            return
        if previous == signal.SIG_IGN:
            return
        # The default action was next: the process is about to die. Export first, then die by the
        # same signal, so the exit status says what it would have said.
        for provider in providers():
            try:
                provider.shutdown()
            except Exception:
                logger.exception("reqlog: flushing request logs on signal %s failed", sig)
        signal.signal(sig, signal.SIG_DFL)
        signal.raise_signal(sig)

    try:
        signal.signal(signum, on_signal)
    except (ValueError, OSError):  # not allowed here (an embedded interpreter): lifespan still works
        return
    _hooked.add(signum)
