"""A raw ASGI app, no framework: `python -m examples.raw_asgi_app` (see examples/_run.py)."""

from __future__ import annotations

import json
from typing import Any

from opentelemetry.sdk.trace import TracerProvider

from instrumentation import RequestLogMiddleware


async def hello(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    if scope["path"] == "/boom":
        raise RuntimeError("raw ASGI failure")
    status = 200 if scope["path"] == "/" else 404
    payload = json.dumps({"path": scope["path"], "received": len(body)}).encode()
    await send({"type": "http.response.start", "status": status, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": payload})


def create_app(tracer_provider: TracerProvider | None = None) -> RequestLogMiddleware:
    return RequestLogMiddleware(hello, tracer_provider=tracer_provider)


if __name__ == "__main__":
    from ._run import serve

    serve(create_app, service_name="example-raw-asgi")
