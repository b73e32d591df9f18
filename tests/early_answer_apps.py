"""Two tiny apps, ASGI and WSGI, that answer before reading the request body, as an auth check or
a size limit does. Served by real gunicorn (sync worker, uvicorn worker) in `test_unread_body_servers.py`;
logs go where `configure()` reads from the environment.
"""

from __future__ import annotations

from typing import Any

import instrumentation

instrumentation.configure(service_name="early-answers")

_STATUS = {"/deny": (401, b"Unauthorized"), "/too-large": (413, b"Request Entity Too Large")}


async def _asgi(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    status, text = _STATUS.get(scope["path"], (404, b"Not Found"))
    await send({"type": "http.response.start", "status": status, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": text})


def _wsgi(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    status, text = _STATUS.get(environ["PATH_INFO"], (404, b"Not Found"))
    start_response(f"{status} {text.decode()}", [("Content-Type", "text/plain")])
    return [text]


asgi_app = instrumentation.RequestLogMiddleware(_asgi)
wsgi_app = instrumentation.RequestLogWSGIMiddleware(_wsgi)
