"""The app the shutdown tests run under real servers: `configure()` from the environment, then the middleware.

`app` is a Starlette app (it speaks ASGI lifespan); `raw_app` is a bare ASGI app that refuses lifespan
scopes the way Django's handler does. `/ready` is excluded from logging (`REQLOG_EXCLUDED_URLS`), so
only the test's own requests make rows.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route

from instrumentation import RequestLogMiddleware, configure

configure()


async def ready(request: Request) -> PlainTextResponse:
    return PlainTextResponse("ok")


async def item(request: Request) -> JSONResponse:
    return JSONResponse({"item": request.path_params["n"]})


app = RequestLogMiddleware(Starlette(routes=[Route("/ready", ready), Route("/items/{n:int}", item)]))


async def _refuses_lifespan(
    scope: MutableMapping[str, Any],
    receive: Callable[[], Awaitable[MutableMapping[str, Any]]],
    send: Callable[[MutableMapping[str, Any]], Awaitable[None]],
) -> None:
    if scope["type"] != "http":  # as Django's ASGIHandler: anything but HTTP is an error
        raise ValueError(f"only HTTP, not {scope['type']}")
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"ok"})


raw_app = RequestLogMiddleware(_refuses_lifespan)


if __name__ == "__main__":  # `python -m tests.instrumentation.served_app PORT`: uvicorn without lifespan
    import sys

    import uvicorn

    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), lifespan="off")
