"""Bodies the app never read (an early 401, 403, 404 or 413) are stored, up to `max_body_bytes`, with
their real size, and the app receives exactly what the server sent. ASGI side (raw and Starlette);
the WSGI side is in `test_wsgi.py` and, under a real gunicorn, `test_gunicorn.py`.
"""

from __future__ import annotations

from typing import Any

import orjson
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from instrumentation import RequestLogMiddleware

from .helpers import js, request, row_of

BODY = {"username": "ada", "note": "é" * 10}


async def _deny(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Answers 401 without reading the body: what an auth check in front of a view does."""
    payload = b'{"detail":"Authentication credentials were not provided."}'
    await send(
        {
            "type": "http.response.start",
            "status": 401,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": payload})


async def test_early_401_keeps_the_unread_json_body(
    tracer_provider: TracerProvider, span_exporter: InMemorySpanExporter
) -> None:
    app = RequestLogMiddleware(_deny, tracer_provider=tracer_provider)
    sent = orjson.dumps(BODY)
    response = await request(app, "POST", "/api/items", content=sent, headers={"Content-Type": "application/json"})
    assert response.status_code == 401
    row = row_of(span_exporter)
    assert (js(row.body), row.request_body_size, row.request_body_truncated) == (BODY, len(sent), False)
    assert js(row.response) == {"detail": "Authentication credentials were not provided."}


async def test_early_413_keeps_the_prefix_and_the_declared_size(
    tracer_provider: TracerProvider, span_exporter: InMemorySpanExporter
) -> None:
    app = RequestLogMiddleware(_deny, tracer_provider=tracer_provider, max_body_bytes=1000)
    sent = b"x" * 200_000
    await request(app, "POST", "/upload", content=sent, headers={"Content-Type": "text/plain"})
    row = row_of(span_exporter)
    assert js(row.body) == "x" * 1000
    assert (row.request_body_size, row.request_body_truncated) == (200_000, True)


async def test_the_app_still_receives_every_message_after_the_drain(
    tracer_provider: TracerProvider, span_exporter: InMemorySpanExporter
) -> None:
    """An app that answers first and reads afterwards gets the whole body, in order, from the replay."""
    seen: list[bytes] = []

    async def answer_then_read(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 403, "headers": []})
        await send({"type": "http.response.body", "body": b""})
        while True:
            message = await receive()
            seen.append(message.get("body", b""))
            if not message.get("more_body", False):
                return

    app = RequestLogMiddleware(answer_then_read, tracer_provider=tracer_provider, max_body_bytes=10)

    async def chunks() -> Any:
        for part in (b"0123456789", b"abcdefghij", b"KLMNOP"):
            yield part

    await request(app, "POST", "/x", content=chunks(), headers={"Content-Type": "text/plain"})
    assert b"".join(seen) == b"0123456789abcdefghijKLMNOP"
    row = row_of(span_exporter)
    assert js(row.body) == "0123456789"
    assert (row.request_body_size, row.request_body_truncated) == (26, True)


async def test_expect_100_continue_is_not_read(
    tracer_provider: TracerProvider, span_exporter: InMemorySpanExporter
) -> None:
    """A client waiting for `100 Continue` has not sent the body: reading would ask for it."""
    app = RequestLogMiddleware(_deny, tracer_provider=tracer_provider)
    await request(
        app, "POST", "/x", content=b'{"a":1}', headers={"Content-Type": "application/json", "Expect": "100-continue"}
    )
    row = row_of(span_exporter)
    assert (row.body, row.request_body_size) == (None, 7)


async def test_starlette_404_and_early_403_keep_their_bodies(
    tracer_provider: TracerProvider, span_exporter: InMemorySpanExporter
) -> None:
    async def guarded(request: Request) -> JSONResponse:
        if request.headers.get("authorization") != "Token good":
            return JSONResponse({"detail": "You do not have permission to perform this action."}, status_code=403)
        return JSONResponse(await request.json())

    starlette = Starlette(routes=[Route("/items", guarded, methods=["POST"])])
    starlette.add_middleware(RequestLogMiddleware, tracer_provider=tracer_provider)
    sent = orjson.dumps(BODY)
    headers = {"Content-Type": "application/json"}
    assert (await request(starlette, "POST", "/items", content=sent, headers=headers)).status_code == 403
    assert (await request(starlette, "POST", "/nowhere", content=sent, headers=headers)).status_code == 404
    good = await request(starlette, "POST", "/items", content=sent, headers={**headers, "Authorization": "Token good"})
    assert good.json() == BODY  # the drain never runs for a body the app read
    rows = sorted((row_of_span(s) for s in span_exporter.get_finished_spans()), key=lambda r: r.status_code)
    assert [(r.status_code, js(r.body), r.request_body_size) for r in rows] == [
        (200, BODY, len(sent)),
        (403, BODY, len(sent)),
        (404, BODY, len(sent)),
    ]


def row_of_span(span: Any) -> Any:
    from exporter import span_to_row

    row = span_to_row(span)
    assert row is not None
    return row
