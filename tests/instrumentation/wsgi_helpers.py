"""Drive a WSGI app in-process exactly as a PEP 3333 server does: call, iterate, then `close()`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from werkzeug.test import EnvironBuilder

from .helpers import FIREFOX


@dataclass
class WSGIResult:
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    chunks: list[bytes]
    result: Any  # what the app (through the middleware) returned


def call(app: Any, method: str, path: str, *, environ: dict[str, Any] | None = None, **kwargs: Any) -> WSGIResult:
    """One request; `kwargs` go to werkzeug's `EnvironBuilder` (`json=`, `data=`, `headers=`...)."""
    kwargs["headers"] = {"User-Agent": FIREFOX, **kwargs.get("headers", {})}
    builder = EnvironBuilder(path=path, method=method, environ_base={"REMOTE_ADDR": "127.0.0.1"}, **kwargs)
    env = builder.get_environ()
    env.update(environ or {})
    started: list[Any] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        started[:] = [status, headers]
        return lambda data: None

    result = app(env, start_response)
    chunks: list[bytes] = []
    try:
        for chunk in result:
            chunks.append(chunk)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    return WSGIResult(int(started[0].split()[0]), started[1], b"".join(chunks), chunks, result)
