"""Starlette and FastAPI, with the middleware wrapped around the app and added with `add_middleware`.

The trap (docs/design-notes.md): Starlette's ServerErrorMiddleware sends the 500 *before* re-raising, and stock
OTel ends its span with that last body chunk, so from outside the exception is lost. The first test
pins that stock behaviour, so the ones after it prove something.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from fastapi import FastAPI, HTTPException
from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode
from pydantic import BaseModel
from starlette.applications import Starlette
from starlette.authentication import AuthCredentials, AuthenticationBackend, SimpleUser
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, PlainTextResponse, StreamingResponse
from starlette.routing import Mount, Route

from instrumentation import RequestLogMiddleware
from instrumentation import attributes as attr

from .helpers import assert_row, js, request, row_of, server_span

STYLES = ("wrapped", "add_middleware")


class _User(SimpleUser):
    """Starlette's SimpleUser plus the id and full name a real app's user would carry."""

    def __init__(self, user_id: int, username: str, full_name: str) -> None:
        super().__init__(username)
        self.id = user_id
        self.full_name = full_name


class _TokenBackend(AuthenticationBackend):
    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, SimpleUser] | None:
        if conn.headers.get("authorization") == "Bearer alice-token":
            return AuthCredentials(["authenticated"]), _User(42, "alice", "Alice Liddell")
        return None


async def _item(request: Request) -> JSONResponse:
    data = await request.json()
    return JSONResponse({"id": request.path_params["item_id"], **data}, status_code=201)


async def _boom(request: Request) -> PlainTextResponse:
    raise ValueError("bad widget")


async def _missing(request: Request) -> PlainTextResponse:
    from starlette.exceptions import HTTPException as StarletteHTTPException

    raise StarletteHTTPException(404, "no such widget")


async def _me(request: Request) -> JSONResponse:
    return JSONResponse({"user": request.user.display_name if request.user.is_authenticated else None})


async def _stream(request: Request) -> StreamingResponse:
    async def events() -> AsyncIterator[bytes]:
        for i in range(50):
            yield f"data: {i}\n\n".encode()

    return StreamingResponse(events(), media_type="text/event-stream")


async def _broken_stream(request: Request) -> StreamingResponse:
    async def events() -> AsyncIterator[bytes]:
        yield b"data: first\n\n"
        raise OSError("feed lost")

    return StreamingResponse(events(), media_type="text/event-stream")


def starlette_app(style: str, provider: TracerProvider, **options: Any) -> Any:
    app = Starlette(
        routes=[
            Route("/items/{item_id:int}", _item, methods=["POST"]),
            Route("/boom", _boom),
            Route("/missing", _missing),
            Route("/me", _me),
            Route("/stream", _stream),
            Route("/broken-stream", _broken_stream),
            Mount("/v2", routes=[Route("/items/{item_id:int}", _item, methods=["POST"])]),
        ],
        middleware=[Middleware(AuthenticationMiddleware, backend=_TokenBackend())],
    )
    if style == "wrapped":
        return RequestLogMiddleware(app, tracer_provider=provider, **options)
    app.add_middleware(RequestLogMiddleware, tracer_provider=provider, **options)
    return app


class Widget(BaseModel):
    name: str
    price: float


def fastapi_app(style: str, provider: TracerProvider) -> Any:
    app = FastAPI()

    @app.post("/widgets/{widget_id}", status_code=201)
    async def create(widget_id: int, widget: Widget) -> dict[str, Any]:
        return {"id": widget_id, "name": widget.name}

    @app.get("/boom")
    def boom() -> None:  # sync: runs in the thread pool
        raise KeyError("missing-key")

    @app.get("/teapot")
    async def teapot() -> None:
        raise HTTPException(status_code=418, detail="short and stout")

    if style == "wrapped":
        return RequestLogMiddleware(app, tracer_provider=provider)
    app.add_middleware(RequestLogMiddleware, tracer_provider=provider)
    return app


async def test_stock_otel_loses_the_exception_when_wrapped_outside(
    tracer_provider: TracerProvider, span_exporter: InMemorySpanExporter
) -> None:
    app = Starlette(routes=[Route("/boom", _boom)])
    stock = OpenTelemetryMiddleware(app, tracer_provider=tracer_provider, exclude_spans=["receive", "send"])
    assert (await request(stock, "GET", "/boom")).status_code == 500
    assert not [e for e in server_span(span_exporter).events if e.name == "exception"]


@pytest.mark.parametrize("style", STYLES)
async def test_starlette_exception_is_recorded(
    style: str, tracer_provider: TracerProvider, span_exporter: InMemorySpanExporter
) -> None:
    response = await request(starlette_app(style, tracer_provider), "GET", "/boom")
    assert response.status_code == 500
    assert server_span(span_exporter).status.status_code is StatusCode.ERROR
    row = row_of(span_exporter)
    assert 'raise ValueError("bad widget")' in row.exception_traceback
    _assert_500_row(style, row, response, "ValueError", "bad widget", route="/boom")


def _assert_500_row(style: str, row: Any, response: Any, exc_type: str, message: str, **fields: Any) -> None:
    fields.update(exception_type=exc_type, exception_message=message, exception_traceback=row.exception_traceback)
    if style == "wrapped":  # the 500 that ServerErrorMiddleware sent went through the middleware
        assert_row(row, response, response=response.text, **fields)
    else:  # ServerErrorMiddleware sits outside add_middleware's middleware: its 500 is never seen
        assert_row(row, response, response_headers=None, response_body_size=None, **fields)


@pytest.mark.parametrize("style", STYLES)
async def test_fastapi_exception_is_recorded(
    style: str, tracer_provider: TracerProvider, span_exporter: InMemorySpanExporter
) -> None:
    response = await request(fastapi_app(style, tracer_provider), "GET", "/boom")
    assert response.status_code == 500
    row = row_of(span_exporter)
    assert 'raise KeyError("missing-key")' in row.exception_traceback
    _assert_500_row(style, row, response, "KeyError", "'missing-key'", route="/boom")


@pytest.mark.parametrize("style", STYLES)
async def test_starlette_json_post_route_and_bodies(
    style: str, tracer_provider: TracerProvider, span_exporter: InMemorySpanExporter
) -> None:
    response = await request(starlette_app(style, tracer_provider), "POST", "/items/7?x=1&x=2", json={"name": "w"})
    assert response.status_code == 201
    assert server_span(span_exporter).name == "POST /items/{item_id}"
    assert_row(
        row_of(span_exporter),
        response,
        route="/items/{item_id}",
        query_params={"x": ["1", "2"]},
        body={"name": "w"},
        response={"id": 7, "name": "w"},
    )


async def test_starlette_mounted_route_includes_the_mount(
    tracer_provider: TracerProvider, span_exporter: InMemorySpanExporter
) -> None:
    await request(starlette_app("wrapped", tracer_provider), "POST", "/v2/items/3", json={"name": "w"})
    assert row_of(span_exporter).route == "/v2/items/{item_id}"


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize(("path", "status"), [("/missing", 404), ("/nowhere", 404)])
async def test_starlette_handled_http_errors_are_not_exceptions(
    style: str, path: str, status: int, tracer_provider: TracerProvider, span_exporter: InMemorySpanExporter
) -> None:
    assert (await request(starlette_app(style, tracer_provider), "GET", path)).status_code == status
    row = row_of(span_exporter)
    assert (row.status_code, row.exception_type, row.exception_traceback) == (status, None, None)
    assert server_span(span_exporter).status.status_code is StatusCode.UNSET


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [("POST", "/widgets/1", {"name": "w"}, 422), ("GET", "/teapot", None, 418), ("GET", "/nope", None, 404)],
)
async def test_fastapi_handled_http_errors_are_not_exceptions(
    style: str,
    method: str,
    path: str,
    body: Any,
    status: int,
    tracer_provider: TracerProvider,
    span_exporter: InMemorySpanExporter,
) -> None:
    response = await request(fastapi_app(style, tracer_provider), method, path, json=body)
    assert response.status_code == status
    row = row_of(span_exporter)
    assert (row.status_code, row.exception_type) == (status, None)
    assert js(row.response) == response.json()  # the error body is captured like any other


@pytest.mark.parametrize("style", STYLES)
async def test_fastapi_route_template(
    style: str, tracer_provider: TracerProvider, span_exporter: InMemorySpanExporter
) -> None:
    response = await request(fastapi_app(style, tracer_provider), "POST", "/widgets/5", json={"name": "w", "price": 2})
    assert response.status_code == 201
    row = row_of(span_exporter)
    assert (row.route, row.endpoint) == ("/widgets/{widget_id}", "/widgets/5")
    assert js(row.body) == {"name": "w", "price": 2} and js(row.response) == {"id": 5, "name": "w"}


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize(
    ("headers", "expected"),
    [({"Authorization": "Bearer alice-token"}, ("42", "alice", "Alice Liddell")), ({}, (None, None, None))],
)
async def test_starlette_authenticated_user(
    style: str,
    headers: dict[str, str],
    expected: tuple[Any, ...],
    tracer_provider: TracerProvider,
    span_exporter: InMemorySpanExporter,
) -> None:
    response = await request(starlette_app(style, tracer_provider), "GET", "/me", headers=headers)
    assert response.json() == {"user": expected[1]}
    user_id, username, full_name = expected
    row = row_of(span_exporter)
    assert_row(
        row,
        response,
        route="/me",
        response={"user": username},
        user_id=user_id,
        username=username,
        user_full_name=full_name,
        request_headers=js(row.request_headers),  # Authorization is redacted by the exporter
    )
    if user_id is None:
        assert not [key for key in server_span(span_exporter).attributes if key.startswith("user.")]


async def test_starlette_streaming_response(
    tracer_provider: TracerProvider, span_exporter: InMemorySpanExporter
) -> None:
    response = await request(starlette_app("wrapped", tracer_provider, max_body_bytes=50), "GET", "/stream")
    expected = "".join(f"data: {i}\n\n" for i in range(50))
    assert response.text == expected
    span = server_span(span_exporter)
    assert span.attributes[attr.RESPONSE_BODY_SIZE] == len(expected)
    assert span.attributes[attr.RESPONSE_BODY_CONTENT] == expected[:50]
    assert span.attributes[attr.RESPONSE_BODY_TRUNCATED] is True


@pytest.mark.parametrize("style", STYLES)
async def test_exception_after_the_response_started_keeps_the_sent_status(
    style: str, tracer_provider: TracerProvider, span_exporter: InMemorySpanExporter
) -> None:
    response = await request(starlette_app(style, tracer_provider), "GET", "/broken-stream")
    assert response.status_code == 200  # already on the wire when the generator failed
    row = row_of(span_exporter)
    assert (row.status_code, row.exception_type, row.exception_message) == (200, "OSError", "feed lost")
    assert js(row.response) == "data: first\n\n"
    assert server_span(span_exporter).status.status_code is StatusCode.ERROR
