"""A Starlette app: `python -m examples.starlette_app` (see examples/_run.py)."""

from __future__ import annotations

from opentelemetry.sdk.trace import TracerProvider
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from instrumentation import RequestLogMiddleware, set_user


async def home(request: Request) -> JSONResponse:
    return JSONResponse({"hello": "world"})


async def login(request: Request) -> JSONResponse:
    form = await request.form()
    set_user(1, str(form.get("username", "")), "Example User")  # the password is redacted before storage
    return JSONResponse({"ok": True})


async def boom(request: Request) -> JSONResponse:
    raise RuntimeError("starlette failure")


def create_app(tracer_provider: TracerProvider | None = None) -> Starlette:
    # Added as framework middleware; `RequestLogMiddleware(Starlette(...))` works as well.
    return Starlette(
        routes=[Route("/", home), Route("/login", login, methods=["POST"]), Route("/boom", boom)],
        middleware=[Middleware(RequestLogMiddleware, tracer_provider=tracer_provider)],
    )


if __name__ == "__main__":
    from ._run import serve

    serve(create_app, service_name="example-starlette")
