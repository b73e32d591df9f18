"""RequestLogMiddleware around a raw ASGI app: every row field, bodies, limits, proxies, passthrough."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import orjson
import pytest
from asgiref.testing import ApplicationCommunicator
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from instrumentation import RequestLogMiddleware, set_user
from instrumentation import attributes as attr

from .helpers import FIREFOX, assert_row, js, request, row_of, server_span

STREAM_CHUNK = b"data: " + b"x" * 994 + b"\n\n"  # 1,002 bytes per event
STREAM_EVENTS = 100


async def _read_body(receive: Any) -> bytes:
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body", False):
            return body


async def _respond(send: Any, status: int, body: bytes, content_type: bytes | None, **extra: bytes) -> None:
    headers = [(b"content-length", str(len(body)).encode())]
    if content_type is not None:
        headers.append((b"content-type", content_type))
    headers += [(name.replace("_", "-").encode(), value) for name, value in extra.items()]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def raw_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """A tiny ASGI app with one behaviour per path."""
    if scope["type"] == "lifespan":
        message = await receive()
        assert message["type"] == "lifespan.startup"
        await send({"type": "lifespan.startup.complete"})
        return
    if scope["type"] == "websocket":
        await receive()
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.close", "code": 1000})
        return
    path = scope["path"]
    body = await _read_body(receive)
    if path == "/echo":
        payload = orjson.dumps({"received": orjson.loads(body), "ok": True})
        await _respond(send, 201, payload, b"application/json", x_trace=b"1")
    elif path == "/form":
        await _respond(send, 200, b"thanks", b"text/plain; charset=utf-8")
    elif path == "/upload":
        await _respond(send, 200, orjson.dumps({"bytes": len(body)}), b"application/json")
    elif path == "/big":
        await _respond(send, 200, body, b"application/json")
    elif path == "/image":
        await _respond(send, 200, bytes(range(256)) * 4, b"image/png")
    elif path == "/redirect":
        await _respond(send, 302, b"", b"text/html; charset=utf-8", location=b"/login/?next=/redirect")
    elif path == "/stream":
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/event-stream")]})
        for _ in range(STREAM_EVENTS):
            await send({"type": "http.response.body", "body": STREAM_CHUNK, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})
    elif path == "/boom":
        raise RuntimeError("kaboom")
    elif path == "/who":
        set_user(7, "bob", "Bob Builder")
        await _respond(send, 200, b"{}", b"application/json")
    else:
        await _respond(send, 404, b"Not Found", b"text/plain; charset=utf-8")


@pytest.fixture
def app(tracer_provider: TracerProvider) -> RequestLogMiddleware:
    return RequestLogMiddleware(raw_app, tracer_provider=tracer_provider)


async def test_json_post_with_repeated_query_key_gives_every_row_field(
    app: RequestLogMiddleware, span_exporter: InMemorySpanExporter
) -> None:
    payload = {"name": "widget", "tags": ["a", "b"], "price": 9.5}
    response = await request(
        app, "POST", "/echo?a=1&a=2&b=x%20y", json=payload, headers={"User-Agent": FIREFOX, "X-Request-Id": "r-1"}
    )
    assert response.status_code == 201
    assert response.json() == {"received": payload, "ok": True}  # the app saw the whole body

    span = server_span(span_exporter)
    assert span.kind is SpanKind.SERVER and span.name == "POST"
    assert len(span_exporter.get_finished_spans()) == 1  # no INTERNAL send/receive spans
    row = row_of(span_exporter)
    values = dataclasses.asdict(row)
    started, finished = values.pop("started_at"), values.pop("finished_at")
    assert started <= finished
    assert values.pop("duration") == pytest.approx((finished - started).total_seconds())
    assert re.fullmatch(r"[0-9a-f]{32}", values.pop("trace_id"))
    assert re.fullmatch(r"[0-9a-f]{16}", values.pop("span_id"))
    body = orjson.dumps(payload)
    answer = orjson.dumps({"received": payload, "ok": True})
    for name in ("query_params", "body", "response", "request_headers", "response_headers"):
        values[name] = js(values[name])
    assert values == {
        "id": None,
        "user_id": None,
        "username": None,
        "user_full_name": None,
        "ip": "127.0.0.1",
        "device": "Other",
        "device_type": "pc",
        "is_bot": False,
        "os": "Windows",
        "browser": "Firefox",
        "scheme": "http",
        "endpoint": "/echo",
        "method": "POST",
        "status_code": 201,
        "exception_type": None,
        "created_at": None,
        "updated_at": None,
        "query_params": {"a": ["1", "2"], "b": "x y"},
        "body": payload,
        "response": {"received": payload, "ok": True},
        "request_headers": {
            "Host": "testserver",
            "Accept": "*/*",
            "Accept-Encoding": "gzip, deflate",
            "Connection": "keep-alive",
            "User-Agent": FIREFOX,
            "X-Request-ID": "r-1",
            "Content-Length": str(len(body)),
            "Content-Type": "application/json",
        },
        "response_headers": {"Content-Length": str(len(answer)), "Content-Type": "application/json", "x-trace": "1"},
        "exception_message": None,
        "exception_traceback": None,
        "service_name": "test-service",
        "route": None,
        "request_body_size": len(body),
        "response_body_size": len(answer),
        "request_body_truncated": False,
        "response_body_truncated": False,
    }


async def test_form_post(app: RequestLogMiddleware, span_exporter: InMemorySpanExporter) -> None:
    response = await request(app, "POST", "/form?step=2", data={"name": "Ann", "colour": ["red", "blue"]})
    assert response.text == "thanks"
    assert_row(
        row_of(span_exporter),
        response,
        query_params={"step": "2"},
        body={"name": "Ann", "colour": ["red", "blue"]},
        response="thanks",
    )


async def test_multipart_upload_is_summarised_without_file_contents(
    app: RequestLogMiddleware, span_exporter: InMemorySpanExporter
) -> None:
    secret = b"TOP-SECRET-FILE-CONTENT" * 5000  # 115 KB: also past the 64 KiB body limit
    response = await request(
        app,
        "POST",
        "/upload",
        data={"title": "holiday", "tag": ["a", "b"]},
        files={"photo": ("beach.jpg", secret, "image/jpeg"), "notes": ("notes.txt", b"hello", "text/plain")},
    )
    assert response.json()["bytes"] > len(secret)
    span = server_span(span_exporter)
    assert span.attributes[attr.REQUEST_BODY_CONTENT_TYPE] == "multipart/form-data"
    assert b"TOP-SECRET" not in str(dict(span.attributes)).encode()
    assert_row(
        row_of(span_exporter),
        response,
        body={
            "title": "holiday",
            "tag": ["a", "b"],
            "photo": {"filename": "beach.jpg", "content_type": "image/jpeg", "size": len(secret)},
            "notes": {"filename": "notes.txt", "content_type": "text/plain", "size": 5},
        },
        response=response.json(),
    )


async def test_get_answered_with_302(app: RequestLogMiddleware, span_exporter: InMemorySpanExporter) -> None:
    response = await request(app, "GET", "/redirect")
    assert response.status_code == 302 and response.headers["location"] == "/login/?next=/redirect"
    assert_row(row_of(span_exporter), response, response_body_size=0)
    assert server_span(span_exporter).status.status_code is StatusCode.UNSET


async def test_404_is_not_an_exception(app: RequestLogMiddleware, span_exporter: InMemorySpanExporter) -> None:
    response = await request(app, "GET", "/missing")
    assert response.status_code == 404
    assert_row(row_of(span_exporter), response, response="Not Found")
    span = server_span(span_exporter)
    assert span.status.status_code is StatusCode.UNSET and not span.events


async def test_unhandled_exception_is_a_500_with_the_traceback(
    app: RequestLogMiddleware, span_exporter: InMemorySpanExporter
) -> None:
    response = await request(app, "GET", "/boom")
    assert response.status_code == 500
    span = server_span(span_exporter)
    assert span.status.status_code is StatusCode.ERROR
    row = row_of(span_exporter)
    assert "raise RuntimeError" in row.exception_traceback and "raw_app" in row.exception_traceback
    # Nothing was sent before the exception: the status is the 500 the server answers with.
    assert_row(
        row,
        response,
        exception_type="RuntimeError",
        exception_message="kaboom",
        exception_traceback=row.exception_traceback,
        response_headers=None,
        response_body_size=None,
    )


async def test_streaming_response_is_passed_through_and_only_a_prefix_kept(
    tracer_provider: TracerProvider, span_exporter: InMemorySpanExporter
) -> None:
    app = RequestLogMiddleware(raw_app, tracer_provider=tracer_provider, max_body_bytes=4096)
    chunks: list[bytes] = []

    async def sink(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body":
            chunks.append(message["body"])

    sent = iter([{"type": "http.request", "body": b"", "more_body": False}])
    scope = {"type": "http", "method": "GET", "path": "/stream", "headers": [], "query_string": b""}
    await app(scope, lambda: _next(sent), sink)
    # Every event reached the client, one message each: nothing was held back or merged.
    assert chunks[:-1] == [STREAM_CHUNK] * STREAM_EVENTS
    span = server_span(span_exporter)
    assert span.attributes[attr.RESPONSE_BODY_SIZE] == len(STREAM_CHUNK) * STREAM_EVENTS
    assert len(span.attributes[attr.RESPONSE_BODY_CONTENT]) == 4096
    assert span.attributes[attr.RESPONSE_BODY_TRUNCATED] is True
    row = row_of(span_exporter)
    assert row.response_body_truncated is True and js(row.response).startswith("data: xxx")


async def _next(messages: Any) -> dict[str, Any]:
    return next(messages)


async def test_body_over_the_limit_is_cut_but_the_app_gets_all_of_it(
    tracer_provider: TracerProvider, span_exporter: InMemorySpanExporter
) -> None:
    app = RequestLogMiddleware(raw_app, tracer_provider=tracer_provider, max_body_bytes=100)
    payload = {"items": list(range(200)), "password": "hunter2"}
    response = await request(app, "POST", "/big", json=payload)
    assert response.json() == payload  # the app received and sent the full body
    span = server_span(span_exporter)
    assert len(span.attributes[attr.REQUEST_BODY_CONTENT].encode()) == 100
    prefix = orjson.dumps(payload).decode()[:100]
    assert_row(
        row_of(span_exporter),
        response,
        body=prefix,  # the prefix, as a JSON string
        response=prefix,
        request_body_truncated=True,
        response_body_truncated=True,
    )


async def test_binary_response_keeps_size_and_type_only(
    app: RequestLogMiddleware, span_exporter: InMemorySpanExporter
) -> None:
    await request(app, "GET", "/image")
    span = server_span(span_exporter)
    assert attr.RESPONSE_BODY_CONTENT not in span.attributes
    assert span.attributes[attr.RESPONSE_BODY_CONTENT_TYPE] == "image/png"
    assert span.attributes[attr.RESPONSE_BODY_SIZE] == 1024


async def test_trusted_proxy_forwarded_for_gives_the_right_most_untrusted_address(
    tracer_provider: TracerProvider, span_exporter: InMemorySpanExporter
) -> None:
    app = RequestLogMiddleware(raw_app, tracer_provider=tracer_provider, trusted_proxies=["10.0.0.0/8"])
    headers = {"X-Forwarded-For": "6.6.6.6, 203.0.113.7, 10.1.2.3"}  # client-supplied junk first
    response = await request(app, "GET", "/redirect", headers=headers, client=("10.0.0.5", 4000))
    assert_row(row_of(span_exporter), response, ip="203.0.113.7", response_body_size=0)


async def test_spoofed_forwarded_for_from_an_untrusted_peer_changes_nothing(
    tracer_provider: TracerProvider, span_exporter: InMemorySpanExporter
) -> None:
    app = RequestLogMiddleware(raw_app, tracer_provider=tracer_provider, trusted_proxies=["10.0.0.0/8"])
    headers = {"X-Forwarded-For": "1.2.3.4", "X-Real-IP": "1.2.3.4", "Forwarded": "for=1.2.3.4"}
    response = await request(app, "GET", "/redirect", headers=headers, client=("198.51.100.9", 4000))
    assert_row(row_of(span_exporter), response, ip="198.51.100.9", response_body_size=0)


async def test_set_user_from_a_handler(app: RequestLogMiddleware, span_exporter: InMemorySpanExporter) -> None:
    await request(app, "GET", "/who")
    row = row_of(span_exporter)
    assert (row.user_id, row.username, row.user_full_name) == ("7", "bob", "Bob Builder")


async def test_user_resolver_and_anonymous(
    tracer_provider: TracerProvider, span_exporter: InMemorySpanExporter
) -> None:
    def resolver(scope: dict[str, Any]) -> tuple[int, str, str] | None:
        return (3, "carol", "Carol C") if scope["path"] == "/form" else None

    app = RequestLogMiddleware(raw_app, tracer_provider=tracer_provider, user_resolver=resolver)
    await request(app, "POST", "/form", data={"a": "1"})
    await request(app, "GET", "/redirect")
    first, second = span_exporter.get_finished_spans()
    assert (first.attributes[attr.USER_ID], first.attributes[attr.USER_NAME]) == ("3", "carol")
    assert first.attributes[attr.USER_FULL_NAME] == "Carol C"
    assert not [key for key in second.attributes if key.startswith("user.")]  # anonymous: no user attributes


async def test_incoming_traceparent_is_the_parent(
    app: RequestLogMiddleware, span_exporter: InMemorySpanExporter
) -> None:
    parent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    await request(app, "GET", "/redirect", headers={"traceparent": parent})
    span = server_span(span_exporter)
    assert span.context.trace_id == 0x0AF7651916CD43DD8448EB211C80319C
    assert span.parent is not None and span.parent.span_id == 0xB7AD6B7169203331
    assert span.kind is SpanKind.SERVER


async def test_excluded_urls_make_no_span(tracer_provider: TracerProvider, span_exporter: InMemorySpanExporter) -> None:
    app = RequestLogMiddleware(raw_app, tracer_provider=tracer_provider, excluded_urls=[r"/health$", r"/static/"])
    await request(app, "GET", "/health")
    await request(app, "GET", "/static/app.css")
    assert span_exporter.get_finished_spans() == ()
    await request(app, "GET", "/healthz")
    assert server_span(span_exporter).attributes[attr.URL_PATH] == "/healthz"


async def test_websocket_and_lifespan_pass_through(
    app: RequestLogMiddleware, span_exporter: InMemorySpanExporter
) -> None:
    lifespan = ApplicationCommunicator(app, {"type": "lifespan", "asgi": {"version": "3.0"}})
    await lifespan.send_input({"type": "lifespan.startup"})
    assert await lifespan.receive_output(1) == {"type": "lifespan.startup.complete"}
    await lifespan.wait(1)
    socket = ApplicationCommunicator(app, {"type": "websocket", "path": "/ws", "headers": []})
    await socket.send_input({"type": "websocket.connect"})
    assert (await socket.receive_output(1))["type"] == "websocket.accept"
    assert (await socket.receive_output(1))["type"] == "websocket.close"
    await socket.wait(1)
    assert span_exporter.get_finished_spans() == ()


async def test_capture_failure_never_breaks_the_request(
    tracer_provider: TracerProvider, span_exporter: InMemorySpanExporter
) -> None:
    def broken_resolver(scope: dict[str, Any]) -> None:
        raise LookupError("user store down")

    app = RequestLogMiddleware(raw_app, tracer_provider=tracer_provider, user_resolver=broken_resolver)
    response = await request(app, "POST", "/echo", json={"x": 1})
    assert response.status_code == 201
    span = server_span(span_exporter)
    [event] = span.events
    assert event.name == attr.CAPTURE_ERROR_EVENT and event.attributes[attr.EXCEPTION_TYPE] == "LookupError"
    row = row_of(span_exporter)
    assert (row.status_code, row.exception_type, js(row.body)) == (201, None, {"x": 1})


async def test_global_provider_is_the_default(span_exporter: InMemorySpanExporter) -> None:
    # No tracer_provider: the global (here the API's default, non-recording) provider is used and
    # the app still works; nothing reaches the local exporter.
    app = RequestLogMiddleware(raw_app)
    assert (await request(app, "POST", "/echo", json={"x": 1})).status_code == 201
    assert span_exporter.get_finished_spans() == ()


async def test_body_capture_switched_off_keeps_sizes(
    tracer_provider: TracerProvider, span_exporter: InMemorySpanExporter
) -> None:
    app = RequestLogMiddleware(
        raw_app, tracer_provider=tracer_provider, capture_request_body=False, capture_response_body=False
    )
    await request(app, "POST", "/echo", json={"secret": "no"})
    span = server_span(span_exporter)
    assert attr.REQUEST_BODY_CONTENT not in span.attributes and attr.RESPONSE_BODY_CONTENT not in span.attributes
    assert span.attributes[attr.REQUEST_BODY_SIZE] == len(b'{"secret":"no"}')
    assert span.attributes[attr.RESPONSE_BODY_SIZE] > 0


async def test_spans_the_app_starts_are_children_of_the_server_span(
    tracer_provider: TracerProvider, span_exporter: InMemorySpanExporter
) -> None:
    tracer = tracer_provider.get_tracer("app")

    async def app_with_work(scope: dict[str, Any], receive: Any, send: Any) -> None:
        with tracer.start_as_current_span("db query"):
            await _respond(send, 200, b"ok", b"text/plain")

    await request(RequestLogMiddleware(app_with_work, tracer_provider=tracer_provider), "GET", "/")
    child, server = sorted(span_exporter.get_finished_spans(), key=lambda s: s.kind is SpanKind.SERVER)
    assert child.parent is not None and child.parent.span_id == server.context.span_id
    assert child.context.trace_id == server.context.trace_id


async def test_sampled_out_requests_are_served_and_capture_nothing(span_exporter: InMemorySpanExporter) -> None:
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.sampling import ALWAYS_OFF

    provider = TracerProvider(sampler=ALWAYS_OFF)
    provider.add_span_processor(SimpleSpanProcessor(span_exporter))
    try:
        app = RequestLogMiddleware(raw_app, tracer_provider=provider)
        assert (await request(app, "POST", "/echo", json={"x": 1})).status_code == 201
        assert (await request(app, "GET", "/who")).status_code == 200  # set_user outside capture: a no-op
    finally:
        provider.shutdown()
    assert span_exporter.get_finished_spans() == ()


async def test_non_utf8_query_and_header_bytes_do_not_break_capture(
    app: RequestLogMiddleware, span_exporter: InMemorySpanExporter
) -> None:
    sent = iter([{"type": "http.request", "body": b"", "more_body": False}])
    scope = {
        "type": "http",
        "method": "GET",
        "path": "/caf\u00e9",
        "query_string": "q=caf\u00e9".encode() + b"&raw=\xff",
        "headers": [(b"x-name", b"Ren\xe9")],  # latin-1 bytes, not UTF-8
        "client": ("127.0.0.1", 1),
    }
    statuses: list[int] = []

    async def sink(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    await app(scope, lambda: _next(sent), sink)
    assert statuses == [404]
    span = server_span(span_exporter)
    assert span.attributes[attr.URL_PATH] == "/caf\u00e9"
    assert span.attributes[attr.URL_QUERY] == "q=caf\u00c3\u00a9&raw=\u00ff"  # every byte kept, as latin-1
    assert span.attributes["http.request.header.x-name"] == ("Ren\u00e9",)


async def test_sanitize_headers_hides_values_on_the_span(
    tracer_provider: TracerProvider, span_exporter: InMemorySpanExporter
) -> None:
    app = RequestLogMiddleware(raw_app, tracer_provider=tracer_provider, sanitize_headers=["authorization", "x-.*-key"])
    headers = {"Authorization": "Token abc", "X-Api-Key": "k1", "X-Keep": "v"}
    await request(app, "POST", "/echo", json={"x": 1}, headers=headers)
    attributes = server_span(span_exporter).attributes
    assert attributes["http.request.header.authorization"] == ("[REDACTED]",)
    assert attributes["http.request.header.x-api-key"] == ("[REDACTED]",)
    assert attributes["http.request.header.x-keep"] == ("v",)
    assert attributes["http.response.header.x-trace"] == ("1",)


async def test_a_span_already_current_is_the_parent(
    tracer_provider: TracerProvider, span_exporter: InMemorySpanExporter
) -> None:
    app = RequestLogMiddleware(raw_app, tracer_provider=tracer_provider)
    with tracer_provider.get_tracer("outer").start_as_current_span("outer") as outer:
        await request(app, "GET", "/redirect")
    server = server_span(span_exporter)  # still a SERVER span, so it still makes a row
    assert server.parent is not None and server.parent.span_id == outer.get_span_context().span_id
