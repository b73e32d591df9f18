"""reqlog's middleware under a real uvicorn makes the endpoint Django's `request.path` gives, and
the one a span from an SDK that sends `url.path` percent-encoded (Node, Java) makes."""

from __future__ import annotations

import http.client
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote_to_bytes
from wsgiref.simple_server import WSGIRequestHandler, make_server

import orjson
import pytest
import uvicorn
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from exporter import span_to_row
from exporter.canonical import decoded_path
from instrumentation import RequestLogMiddleware, RequestLogWSGIMiddleware
from instrumentation.url_path import span_path, wsgi_span_path
from tests.exporter.test_canonical import django_path

RAW_PATHS = ["/plain", "/files/caf%C3%A9/a%20b", "/a%2525", "/a%252F", "/a%2Fb", "/bad%FF%e2%82x", "/100%",
             "/%25%", "/%3Fnot-a-query"]  # fmt: skip


async def ok(scope: dict[str, Any], receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"ok"})


@pytest.fixture
def server(tracer_provider: TracerProvider) -> Iterator[int]:
    """uvicorn on 127.0.0.1 and a free port, in a thread, serving `ok` behind the middleware."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(RequestLogMiddleware(ok, tracer_provider=tracer_provider), log_level="warning",
                            lifespan="off")  # fmt: skip
    uv = uvicorn.Server(config)
    thread = threading.Thread(target=uv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not uv.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield int(sock.getsockname()[1])
    finally:
        uv.should_exit = True
        thread.join(30)
        sock.close()


def ok_wsgi(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # no access log on stderr
        pass


@pytest.fixture
def wsgi_server(tracer_provider: TracerProvider) -> Iterator[int]:
    """The standard library's WSGI server (it percent-decodes PATH_INFO) serving `ok_wsgi`."""
    httpd = make_server("127.0.0.1", 0, RequestLogWSGIMiddleware(ok_wsgi, tracer_provider=tracer_provider),
                        handler_class=_Quiet)  # fmt: skip
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield int(httpd.server_address[1])
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(30)


@pytest.mark.parametrize("kind", ["asgi", "wsgi"])
def test_the_middleware_and_encoded_url_paths_make_djangos_endpoint(
    kind: str, request: pytest.FixtureRequest, span_exporter: InMemorySpanExporter
) -> None:
    server = request.getfixturevalue("server" if kind == "asgi" else "wsgi_server")
    for n, raw in enumerate(RAW_PATHS):
        connection = http.client.HTTPConnection("127.0.0.1", server, timeout=10)
        try:
            connection.putrequest("GET", f"{raw}?n={n}", skip_accept_encoding=True)
            connection.endheaders()
            assert connection.getresponse().status == 200
        finally:
            connection.close()
    deadline = time.monotonic() + 30  # a span ends just after its response has left
    while len(span_exporter.get_finished_spans()) < len(RAW_PATHS) and time.monotonic() < deadline:
        time.sleep(0.02)
    rows = [row for row in map(span_to_row, span_exporter.get_finished_spans()) if row is not None]
    endpoints = [row.endpoint for row in sorted(rows, key=lambda row: int(orjson.loads(row.query_params)["n"]))]
    assert endpoints == [django_path(raw) for raw in RAW_PATHS]
    # What the exporter makes of the same request line sent as `url.path` by the JavaScript SDK.
    assert endpoints == [decoded_path(raw) for raw in RAW_PATHS]


def test_behind_a_root_path_the_decoded_path_is_escaped() -> None:
    # uvicorn --root-path /api: `path` carries the prefix, `raw_path` does not.
    scope = {"path": "/api/a%25b", "raw_path": b"/a%2525b", "root_path": "/api"}
    assert span_path(scope) == "/api/a%2525b"
    assert decoded_path(span_path(scope)) == "/api/a%25b"
    assert span_path({"path": "/caf\u00e9"}) == "/caf\u00e9"  # no raw path, no `%`: itself
    assert span_path({}) == "/"


def test_a_wsgi_path_decodes_to_djangos_request_path() -> None:
    # PEP 3333: the server's decoding, bytes as latin-1 (`/café` arrives as `/cafÃ©`).
    for raw in RAW_PATHS:
        environ_path = unquote_to_bytes(raw).decode("latin-1")
        assert decoded_path(wsgi_span_path(environ_path)) == django_path(raw), raw
    assert wsgi_span_path("/caf\u00e9") == "/caf%E9"  # the byte E9 alone is no UTF-8: Django shows %E9
    assert wsgi_span_path("/\u20ac%") == "/\u20ac%25"  # no PEP 3333 string (not latin-1): its text
