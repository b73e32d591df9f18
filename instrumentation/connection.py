"""A broken pipe to reqlog is said once, clearly, at start; not once per batch.

`start_check()` posts an empty OTLP request (zero spans: nothing is stored) to the service from a
daemon thread with a short timeout, so app start-up is not delayed, and logs one error naming what
failed and the command that fixes it: a refused token (401), an account without the ingest
permission (403), nothing listening, no reqlog there (404).

The OTLP exporter logs a line for every failed batch (and every retry). `DEDUPE` is a logging filter
on its loggers that lets each distinct failure through once, keyed by what failed (the status
code, "unreachable", or the message) rather than the text, which carries the retry delay and
object addresses. A successful export clears it, so an outage after a recovery is reported again.
"""

from __future__ import annotations

import json
import logging
import ssl
import threading
import urllib.error
import urllib.request
from collections.abc import Mapping

logger = logging.getLogger("reqlog.instrumentation")

# Long enough for a busy service's first answer (its decoding processes start on the first export),
# short enough that a report comes while someone is still looking at the start-up output.
CHECK_TIMEOUT_S = 5.0
# Where the OTLP/HTTP exporter (and the HTTP client it uses) log.
SDK_LOGGERS = ("opentelemetry.exporter.otlp.proto.http.trace_exporter", "opentelemetry.exporter.otlp.common.http")
_TOKEN_FIX = (
    "Create an ingest token on the service's host with `reqlog account create ingest --grant 3602` "
    "then `reqlog token create ingest` (add `--db FILE` if the service does not use the default file), "
    "and set REQLOG_TOKEN to it (or pass configure(token=...))."
)

Key = tuple[object, ...]


class Dedupe(logging.Filter):
    """Lets each distinct export failure through once, until an export succeeds."""

    def __init__(self) -> None:
        super().__init__()
        self._seen: set[Key] = set()
        self._lock = threading.Lock()

    def first(self, key: Key) -> bool:
        """True the first time `key` is seen since the last success (and remembers it)."""
        with self._lock:
            if key in self._seen:
                return False
            self._seen.add(key)
            return True

    def succeeded(self) -> None:
        with self._lock:
            self._seen.clear()

    def filter(self, record: logging.LogRecord) -> bool:
        return self.first(_record_key(record))


def _record_key(record: logging.LogRecord) -> Key:
    args = record.args if isinstance(record.args, tuple) else ()
    message = str(record.msg)
    if message.startswith("Failed to export %s batch code") and len(args) >= 3:
        return ("status", args[1]) if isinstance(args[1], int) else ("unreachable",)
    if message.startswith("Transient error") and args:
        return ("unreachable",) if isinstance(args[0], BaseException) else ("transient", str(args[0]))
    return ("message", message)


DEDUPE = Dedupe()
_installed = False
_install_lock = threading.Lock()


def install_dedupe() -> Dedupe:
    """Put `DEDUPE` on the OTLP exporter's loggers (once per process)."""
    global _installed
    with _install_lock:
        if not _installed:
            for name in SDK_LOGGERS:
                logging.getLogger(name).addFilter(DEDUPE)
            _installed = True
    return DEDUPE


def start_check(
    url: str, headers: Mapping[str, str], *, token_set: bool, queue_size: int, cafile: str | None = None
) -> threading.Thread:
    """Probe `url` on a daemon thread; log one clear error if the pipe is broken. The thread."""
    thread = threading.Thread(
        target=check,
        args=(url, dict(headers)),
        kwargs={"token_set": token_set, "queue_size": queue_size, "cafile": cafile, "timeout": CHECK_TIMEOUT_S},
        name="reqlog-connection-check",
        daemon=True,
    )
    thread.start()
    return thread


def check(
    url: str,
    headers: Mapping[str, str],
    *,
    token_set: bool,
    queue_size: int,
    cafile: str | None = None,
    timeout: float = CHECK_TIMEOUT_S,
) -> str | None:
    """Post an empty OTLP request to `url`; log and return the problem, or None when it was accepted."""
    request = urllib.request.Request(url, data=b"", method="POST")
    for name, value in headers.items():
        if name.lower() not in ("content-encoding", "content-type"):  # the empty body is not compressed
            request.add_header(name, value)
    request.add_header("Content-Type", "application/x-protobuf")
    context = ssl.create_default_context(cafile=cafile) if url.startswith("https:") else None
    try:
        with urllib.request.urlopen(request, timeout=timeout, context=context):
            return None
    except urllib.error.HTTPError as error:
        with error:
            key: Key = ("status", error.code)
            problem = _refusal(url, error.code, _detail(error.read()), token_set)
    except (OSError, ValueError) as error:  # refused, timed out, unknown host, TLS
        reason = getattr(error, "reason", error)  # urllib wraps connect-time errors in URLError
        key = ("unreachable",)
        if isinstance(reason, TimeoutError):
            DEDUPE.first(key)
            logger.warning(
                "reqlog: the request-log service at %s did not answer a test export within %.0f s: it is busy "
                "or out of reach. Request logs wait in memory (at most %d spans) until it answers; if it is "
                "not running, start it with `reqlog serve`, or set REQLOG_ENDPOINT to the URL it listens on.",
                url,
                timeout,
                queue_size,
            )
            return f"timed out after {timeout:.0f} s"
        problem = (
            f"reqlog: cannot reach the request-log service at {url} ({reason}). Request logs wait in memory "
            f"(at most {queue_size} spans, the oldest dropped past that) until it answers. "
            "Start it with `reqlog serve`, or set REQLOG_ENDPOINT to the URL it listens on."
        )
    DEDUPE.first(key)  # the exporter's own lines for this failure are kept back from now on
    logger.error(problem)
    return problem


def _refusal(url: str, code: int, detail: str, token_set: bool) -> str:
    said = f"{code} {detail}".strip()
    if code == 401:
        what = "refused the token" if token_set else "needs a token and none is set"
        return f"reqlog: the request-log service at {url} {what} ({said}): no request log is stored. {_TOKEN_FIX}"
    if code == 403:
        return (
            f"reqlog: the request-log service at {url} accepted the token but its account lacks permission "
            f"3602 (ingest) ({said}): no request log is stored. {_TOKEN_FIX}"
        )
    if code == 404:
        return (
            f"reqlog: nothing receives OTLP at {url} ({said}): no request log is stored. Set REQLOG_ENDPOINT "
            "to the base URL of `reqlog serve` (spans go to <endpoint>/v1/traces)."
        )
    return f"reqlog: the request-log service at {url} answered a test export with {said}; request logs may be lost."


def _detail(body: bytes) -> str:
    """DRF's `{"detail": ...}`, else the start of the body."""
    try:
        parsed = json.loads(body)
    except ValueError:
        return body[:200].decode("utf-8", "replace").strip()
    if isinstance(parsed, dict) and isinstance(parsed.get("detail"), str):
        return str(parsed["detail"])
    return ""
