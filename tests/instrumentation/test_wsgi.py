"""RequestLogWSGIMiddleware with real Flask (and Flask-Login) and raw WSGI apps, driven as a PEP 3333
server drives them (`wsgi_helpers.call`): the same span contract and capture rules as the ASGI side.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any
from wsgiref.util import FileWrapper

import flask
import orjson
import pytest
from flask_login import LoginManager, UserMixin, login_user
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from instrumentation import RequestLogMiddleware, RequestLogWSGIMiddleware, set_user

from .helpers import js, request, row_of, server_span
from .wsgi_helpers import call


class _User(UserMixin):
    def __init__(self, user_id: str, username: str) -> None:
        self.id = user_id
        self.username = username
        self.full_name = "Ada Lovelace"


def _flask_app(provider: TracerProvider, **options: Any) -> flask.Flask:
    app = flask.Flask("reqlog_test")
    app.secret_key = "tests-only"
    logins = LoginManager(app)
    logins.user_loader(lambda user_id: _User(user_id, "ada") if user_id == "7" else None)

    @app.post("/items/<int:pk>")
    def item(pk: int) -> Any:
        return {"id": pk, **(flask.request.get_json() or {})}, 201

    @app.get("/boom")
    def boom() -> str:
        return str(1 / 0)

    @app.post("/login")
    def login() -> str:
        login_user(_User("7", "ada"))
        return "ok"

    @app.get("/me")
    def me() -> str:
        return "me"

    @app.post("/guarded")
    def guarded() -> str:
        return flask.request.get_data(as_text=True)

    @app.before_request
    def deny() -> Any:
        if flask.request.path == "/guarded" and flask.request.headers.get("Authorization") != "Token good":
            return {"detail": "Authentication credentials were not provided."}, 401
        return None

    @app.get("/stream")
    def stream() -> flask.Response:
        return flask.Response((b"event %d\n" % i for i in range(100)), mimetype="text/plain")

    app.wsgi_app = RequestLogWSGIMiddleware(app.wsgi_app, tracer_provider=provider, **options)  # type: ignore[method-assign]
    return app


@pytest.fixture
def app(tracer_provider: TracerProvider) -> flask.Flask:
    return _flask_app(tracer_provider)


def test_flask_route_bodies_and_headers(app: flask.Flask, span_exporter: InMemorySpanExporter) -> None:
    answer = call(
        app, "POST", "/items/9", query_string="q=1&q=2", data=b'{"name":"w"}', content_type="application/json"
    )
    assert answer.status == 201
    assert server_span(span_exporter).name == "POST /items/<int:pk>"
    row = row_of(span_exporter)
    assert (row.method, row.endpoint, row.route, row.status_code) == ("POST", "/items/9", "/items/<int:pk>", 201)
    assert (js(row.query_params), js(row.body), js(row.response)) == (
        {"q": ["1", "2"]},
        {"name": "w"},
        {"id": 9, "name": "w"},
    )
    assert (row.ip, row.browser, row.os, row.request_body_size, row.response_body_size) == (
        "127.0.0.1",
        "Firefox",
        "Windows",
        12,
        len(answer.body),
    )
    assert js(row.request_headers)["Content-Type"] == "application/json"
    assert js(row.response_headers)["Content-Type"] == "application/json"
    assert row.exception_type is None


def test_flask_exception_keeps_its_traceback(app: flask.Flask, span_exporter: InMemorySpanExporter) -> None:
    assert call(app, "GET", "/boom").status == 500  # Flask answered it: nothing escaped to WSGI
    span = server_span(span_exporter)
    assert span.status.status_code is StatusCode.ERROR
    row = row_of(span_exporter)
    assert (row.exception_type, row.exception_message, row.route) == ("ZeroDivisionError", "division by zero", "/boom")
    assert "str(1 / 0)" in (row.exception_traceback or "")


def test_flask_login_user(app: flask.Flask, span_exporter: InMemorySpanExporter) -> None:
    login = call(app, "POST", "/login")
    cookie = next(value for name, value in login.headers if name == "Set-Cookie").split(";")[0]
    call(app, "GET", "/me", headers={"Cookie": cookie})
    call(app, "GET", "/me")
    rows = [row_of_span(s) for s in span_exporter.get_finished_spans()]
    assert [(r.endpoint, r.user_id, r.username, r.user_full_name) for r in rows] == [
        ("/login", "7", "ada", "Ada Lovelace"),
        ("/me", "7", "ada", "Ada Lovelace"),
        ("/me", None, None, None),
    ]


def test_resolver_and_set_user(tracer_provider: TracerProvider, span_exporter: InMemorySpanExporter) -> None:
    def resolver(environ: Any) -> Any:
        return (environ.get("HTTP_X_USER"), "from-resolver", None) if environ.get("HTTP_X_USER") else None

    def raw(environ: Any, start_response: Any) -> list[bytes]:
        if environ["PATH_INFO"] == "/explicit":
            set_user(42, "grace", "Grace Hopper")
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"hi"]

    app = RequestLogWSGIMiddleware(raw, tracer_provider=tracer_provider, user_resolver=resolver)
    call(app, "GET", "/resolved", headers={"X-User": "5"})
    call(app, "GET", "/explicit", headers={"X-User": "5"})
    rows = [row_of_span(s) for s in span_exporter.get_finished_spans()]
    assert [(r.user_id, r.username, r.user_full_name) for r in rows] == [
        ("5", "from-resolver", None),
        ("42", "grace", "Grace Hopper"),
    ]


def test_early_401_keeps_the_body_flask_never_read(app: flask.Flask, span_exporter: InMemorySpanExporter) -> None:
    answer = call(app, "POST", "/guarded", json={"note": "yes"})
    assert answer.status == 401
    good = call(app, "POST", "/guarded", json={"note": "yes"}, headers={"Authorization": "Token good"})
    assert orjson.loads(good.body) == {"note": "yes"}  # the app read what it always reads
    rows = [row_of_span(s) for s in span_exporter.get_finished_spans()]
    assert [(r.status_code, js(r.body), r.request_body_size) for r in rows] == [
        (401, {"note": "yes"}, 15),
        (200, {"note": "yes"}, 15),
    ]


def test_early_413_keeps_a_prefix_and_the_real_size(
    tracer_provider: TracerProvider, span_exporter: InMemorySpanExporter
) -> None:
    read: list[int] = []

    def too_large(environ: Any, start_response: Any) -> list[bytes]:
        read.append(len(environ["wsgi.input"].read(0)))
        start_response("413 Request Entity Too Large", [("Content-Type", "text/plain"), ("Content-Length", "3")])
        return [b"big"]

    app = RequestLogWSGIMiddleware(too_large, tracer_provider=tracer_provider, max_body_bytes=1000)
    call(app, "POST", "/upload", data=b"y" * 300_000, content_type="text/plain")
    row = row_of(span_exporter)
    assert (js(row.body), row.request_body_size, row.request_body_truncated) == ("y" * 1000, 300_000, True)
    assert read == [0]


@pytest.mark.parametrize("expect", [None, "100-continue", "100-Continue "])
def test_a_body_the_client_holds_back_for_100_continue_is_not_read(
    tracer_provider: TracerProvider, span_exporter: InMemorySpanExporter, expect: str | None
) -> None:
    """The app answers 401 without reading: the body is read after the answer, unless the client is
    still waiting for `100 Continue` (reading would invite the body the app refused)."""

    def refuse(environ: Any, start_response: Any) -> list[bytes]:
        start_response("401 Unauthorized", [("Content-Type", "text/plain"), ("Content-Length", "2")])
        return [b"no"]

    app = RequestLogWSGIMiddleware(refuse, tracer_provider=tracer_provider)
    body = io.BytesIO(b'{"note": "yes"}')
    headers = {"Expect": expect} if expect else {}
    call(
        app,
        "POST",
        "/upload",
        data=body.getvalue(),
        content_type="application/json",
        headers=headers,
        environ={"wsgi.input": body},
    )
    row = row_of(span_exporter)
    assert (row.status_code, row.request_body_size) == (401, 15)  # the declared size either way
    assert js(row.body) == ({"note": "yes"} if expect is None else None)
    assert body.tell() == (15 if expect is None else 0)


def test_streaming_passes_chunk_by_chunk(tracer_provider: TracerProvider, span_exporter: InMemorySpanExporter) -> None:
    app = _flask_app(tracer_provider, max_body_bytes=50)
    answer = call(app, "GET", "/stream")
    assert len(answer.chunks) == 100 and answer.body.startswith(b"event 0\nevent 1\n")
    row = row_of(span_exporter)
    assert (row.response_body_size, row.response_body_truncated) == (len(answer.body), True)
    assert len(js(row.response)) == 50


def test_file_wrapper_is_returned_to_the_server(
    tracer_provider: TracerProvider, span_exporter: InMemorySpanExporter, tmp_path: Any
) -> None:
    data = tmp_path / "report.csv"
    data.write_bytes(b"a,b\n" * 1000)

    def download(environ: Any, start_response: Any) -> Any:
        start_response("200 OK", [("Content-Type", "text/csv"), ("Content-Length", "4000")])
        return environ["wsgi.file_wrapper"](data.open("rb"))

    app = RequestLogWSGIMiddleware(download, tracer_provider=tracer_provider)
    answer = call(app, "GET", "/report.csv", environ={"wsgi.file_wrapper": FileWrapper})
    assert isinstance(answer.result, FileWrapper)  # the server can still use sendfile
    assert answer.body == b"a,b\n" * 1000
    row = row_of(span_exporter)
    assert (row.status_code, row.response_body_size) == (200, 4000)


def test_raw_wsgi_exception_is_recorded_and_raised(
    tracer_provider: TracerProvider, span_exporter: InMemorySpanExporter
) -> None:
    def broken(environ: Any, start_response: Any) -> Iterator[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        yield b"partial"
        raise ConnectionError("database went away")

    app = RequestLogWSGIMiddleware(broken, tracer_provider=tracer_provider)
    with pytest.raises(ConnectionError):
        call(app, "GET", "/report")
    row = row_of(span_exporter)
    assert (row.exception_type, row.exception_message) == ("ConnectionError", "database went away")
    assert 'raise ConnectionError("database went away")' in (row.exception_traceback or "")


def test_excluded_urls_and_trusted_proxies(
    tracer_provider: TracerProvider, span_exporter: InMemorySpanExporter
) -> None:
    def ok(environ: Any, start_response: Any) -> list[bytes]:
        start_response("204 No Content", [])
        return []

    app = RequestLogWSGIMiddleware(
        ok, tracer_provider=tracer_provider, excluded_urls="/healthz", trusted_proxies="127.0.0.1"
    )
    call(app, "GET", "/healthz")
    call(app, "GET", "/work", headers={"X-Forwarded-For": "203.0.113.9, 127.0.0.1"})
    assert row_of(span_exporter).ip == "203.0.113.9"


async def test_same_span_as_the_asgi_middleware(
    tracer_provider: TracerProvider, span_exporter: InMemorySpanExporter
) -> None:
    """One request through each adapter: the same attributes, key for key and value for value."""
    payload = b'{"caf\xc3\xa9":1}'

    async def asgi_app(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": payload})

    def wsgi_app(environ: Any, start_response: Any) -> list[bytes]:
        environ["wsgi.input"].read()
        start_response("200 OK", [("Content-Type", "application/json")])
        return [payload]

    headers = {"Content-Type": "application/json", "traceparent": f"00-{'ab' * 16}-{'cd' * 8}-01"}
    name = "Zoë".encode()  # a UTF-8 header value: raw bytes in ASGI, their latin-1 reading in PEP 3333
    await request(
        RequestLogMiddleware(asgi_app, tracer_provider=tracer_provider),
        "POST",
        "/p?x=é",
        content=payload,
        headers={**headers, "X-Name": name},
    )
    call(
        RequestLogWSGIMiddleware(wsgi_app, tracer_provider=tracer_provider),
        "POST",
        "/p",
        query_string="x=%C3%A9",
        data=payload,
        headers={
            **headers,
            "X-Name": name.decode("latin-1"),
            "Host": "testserver",
            "Accept": "*/*",
            "Accept-Encoding": "gzip, deflate",
            "Connection": "keep-alive",
        },
    )
    asgi, wsgi = (dict(span.attributes or {}) for span in span_exporter.get_finished_spans())
    for attributes in (asgi, wsgi):
        attributes.pop("http.request.header.content-length")  # httpx and werkzeug agree; ordering differs
    assert asgi.pop("url.query") == "x=%C3%A9" == wsgi.pop("url.query")
    assert asgi == wsgi
    assert wsgi["http.request.header.x-name"] == ("Zoë",)
    parents = [span.parent.span_id for span in span_exporter.get_finished_spans() if span.parent]
    assert parents == [0xCDCDCDCDCDCDCDCD] * 2


def row_of_span(span: Any) -> Any:
    from exporter import span_to_row

    row = span_to_row(span)
    assert row is not None
    return row


@pytest.mark.parametrize("protocol", ["wsgi", "asgi"])
async def test_only_some_methods_and_statuses(
    protocol: str, tracer_provider: TracerProvider, span_exporter: InMemorySpanExporter
) -> None:
    """drf-api-logger's METHODS and STATUS_CODES settings, as reqlog options, on both adapters."""
    options = {"methods": "post,DELETE", "status_codes": "201,4xx"}

    def wsgi_app(environ: Any, start_response: Any) -> list[bytes]:
        start_response(environ["PATH_INFO"][1:], [])
        return [b""]

    async def asgi_app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": int(scope["path"][1:4]), "headers": []})
        await send({"type": "http.response.body", "body": b""})

    wsgi = RequestLogWSGIMiddleware(wsgi_app, tracer_provider=tracer_provider, **options)
    asgi = RequestLogMiddleware(asgi_app, tracer_provider=tracer_provider, **options)
    for method, status in [("GET", "201 Created"), ("POST", "201 Created"), ("POST", "200 OK"), ("DELETE", "404 X")]:
        path = "/" + status
        if protocol == "wsgi":
            call(wsgi, method, path)
        else:
            await request(asgi, method, path.replace(" ", "-"))
    assert sorted((s.attributes or {})["http.response.status_code"] for s in span_exporter.get_finished_spans()) == [
        201,
        404,
    ]


def test_bad_status_codes_option_fails_at_start() -> None:
    from instrumentation import OptionError

    with pytest.raises(OptionError, match="status_codes"):
        RequestLogWSGIMiddleware(lambda environ, start_response: [], status_codes="4x")
