"""A broken pipe is loud: one clear message at start, then at most one line per distinct failure.

Against a real `reqlog serve` refusing the token (401), an account without the ingest permission
(403) and a closed port; then an in-test OTLP receiver whose answer the test switches, to show that
repeated failures are said once, a different one is said too, and a recovery re-arms the report.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from aiohttp import web
from opentelemetry.sdk.trace import TracerProvider

from instrumentation import RequestLogMiddleware, configure, connection
from instrumentation.connection import DEDUPE, check

from .helpers import request
from .processes import ReqlogService, free_port, ingest_token
from .test_raw_asgi import raw_app

BATCHES = 4
SDK = "opentelemetry.exporter"


@pytest.fixture(autouse=True)
def patient_check(monkeypatch: pytest.MonkeyPatch) -> None:
    """A loaded machine must not turn a slow answer into a report: the check may take 60 s here."""
    monkeypatch.setattr(connection, "CHECK_TIMEOUT_S", 60.0)


@pytest.fixture(autouse=True)
def fresh_dedupe() -> Iterator[None]:
    DEDUPE.succeeded()  # what earlier tests saw in this process must not hide this test's lines
    yield
    DEDUPE.succeeded()


@dataclasses.dataclass(frozen=True)
class Live:
    service: ReqlogService
    ingest: str  # a token holding 3602
    viewer: str  # a token holding only 3601


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    """One `reqlog serve` for the module, its tokens made before it starts."""
    tmp = tmp_path_factory.mktemp("connection")
    db = tmp / "service" / "reqlog.duckdb"
    ingest, viewer = ingest_token(db), ingest_token(db, "viewer", ("3601",))
    running = ReqlogService(db, tmp / "serve.log")
    try:
        yield Live(running, ingest, viewer)
    finally:
        running.stop()


def _ours(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "reqlog.instrumentation"]


def _sdk(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name.startswith(SDK)]


async def _announced(caplog: pytest.LogCaptureFixture) -> str:
    for _ in range(1400):  # the check runs on its own thread (60 s at most); bounded wait for its one line
        if _ours(caplog):
            break
        await asyncio.sleep(0.05)
    [message] = _ours(caplog)
    return message


async def _batches(provider: TracerProvider, count: int = BATCHES) -> None:
    app = RequestLogMiddleware(raw_app, tracer_provider=provider)
    for _ in range(count):
        assert (await request(app, "GET", "/missing")).status_code == 404
        await asyncio.to_thread(provider.force_flush)  # one export per request: one failure each


async def _run(caplog: pytest.LogCaptureFixture, url: str, token: str | None) -> str:
    caplog.set_level(logging.INFO)
    provider = configure(endpoint=url, token=token, set_global=False, environ={}, exporter_options={"timeout": 1.0})
    try:
        message = await _announced(caplog)
        await _batches(provider)
    finally:
        await asyncio.to_thread(provider.shutdown)
    assert _ours(caplog) == [message]  # said once, however many batches failed
    return message


async def test_refused_token(caplog: pytest.LogCaptureFixture, live: Live) -> None:
    running = live.service
    message = await _run(caplog, running.url, "0" * 40)
    assert f"service at {running.url}/v1/traces refused the token (401 Invalid token.)" in message
    assert "`reqlog account create ingest --grant 3602` then `reqlog token create ingest`" in message
    assert "REQLOG_TOKEN" in message
    assert _sdk(caplog) == []  # the exporter's per-batch 401 lines are kept back


async def test_no_token(caplog: pytest.LogCaptureFixture, live: Live) -> None:
    running = live.service
    message = await _run(caplog, running.url, None)
    assert "needs a token and none is set (401 Authentication credentials were not provided.)" in message
    assert _sdk(caplog) == []


async def test_token_without_the_ingest_permission(caplog: pytest.LogCaptureFixture, live: Live) -> None:
    message = await _run(caplog, live.service.url, live.viewer)
    assert "lacks permission 3602 (ingest) (403" in message and "--grant 3602" in message
    assert _sdk(caplog) == []


async def test_closed_port(caplog: pytest.LogCaptureFixture) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    message = await _run(caplog, url, "t")
    assert f"cannot reach the request-log service at {url}/v1/traces" in message
    assert "Connection refused" in message and "`reqlog serve`" in message and "REQLOG_ENDPOINT" in message
    # The exporter's retry lines for the refused connection are kept back; its "gave up" line, the
    # same for every batch, is let through once.
    assert len(_sdk(caplog)) <= 1 < BATCHES


async def test_a_working_pipe_is_quiet(caplog: pytest.LogCaptureFixture, live: Live) -> None:
    # The exporter's own headers, as configure() hands them over (gzip is what otel-config.yaml asks).
    url = f"{live.service.url}/v1/traces"
    headers = {"authorization": f"Token {live.ingest}", "Content-Encoding": "gzip"}
    assert await asyncio.to_thread(check, url, headers, token_set=True, queue_size=2048, timeout=60.0) is None
    assert _ours(caplog) == []


class Switch:
    """An OTLP receiver answering whatever status the test sets."""

    def __init__(self) -> None:
        self.status = 200

    async def handle(self, request: web.Request) -> web.Response:
        await request.read()
        return web.Response(status=self.status, body=b"", content_type="application/x-protobuf")


async def test_each_different_failure_is_said_once(caplog: pytest.LogCaptureFixture, aiohttp_server: Any) -> None:
    caplog.set_level(logging.INFO)
    switch = Switch()
    app = web.Application()
    app.router.add_post("/v1/traces", switch.handle)
    server = await aiohttp_server(app, host="127.0.0.1")
    provider = configure(endpoint=f"http://127.0.0.1:{server.port}", token="t", set_global=False, environ={})
    try:
        await _batches(provider, 1)
        assert _ours(caplog) == [] and _sdk(caplog) == []  # accepted: nothing to say
        switch.status = 403
        await _batches(provider)
        assert len(_sdk(caplog)) == 1 and "code: 403" in _sdk(caplog)[0]
        switch.status = 400
        await _batches(provider)
        assert len(_sdk(caplog)) == 2 and "code: 400" in _sdk(caplog)[1]  # a different failure: said
        switch.status = 200
        await _batches(provider, 1)  # recovered
        switch.status = 403
        await _batches(provider)
        assert len(_sdk(caplog)) == 3 and "code: 403" in _sdk(caplog)[2]  # a new outage: said again
    finally:
        await asyncio.to_thread(provider.shutdown)


async def test_a_service_that_never_answers(caplog: pytest.LogCaptureFixture) -> None:
    """A listening socket nobody serves: the check gives up at its timeout with a warning, not an error."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/v1/traces"
        outcome = await asyncio.to_thread(check, url, {}, token_set=False, queue_size=2048, timeout=0.5)
    assert outcome is not None and outcome.startswith("timed out")
    [record] = [r for r in caplog.records if r.name == "reqlog.instrumentation"]
    assert record.levelno == logging.WARNING and "did not answer a test export" in record.getMessage()
