"""`POST /v1/traces` on the real service: encodings, answers, errors, credentials, back-pressure."""

from __future__ import annotations

import asyncio
import gzip
import io
import threading
import tracemalloc
import zlib
from typing import Any

import orjson
import pyarrow as pa
import pytest
from aiohttp.test_utils import TestClient, TestServer
from google.rpc import status_pb2
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from exporter.errors import StorageError
from query_api import ServiceSettings
from query_api.keys import INGEST_KEY, RECENT_KEY, STORE_KEY
from tests.otlp_payloads import pb_request, pb_span, to_otlp_json

from .harness import Tokens, auth

PROTOBUF = "application/x-protobuf"
JSON = "application/json"


def payload(count: int = 3, *, first: int = 1, kind: int | None = None, **attributes: Any) -> Any:
    """A request of `count` server spans with span ids first, first+1, ... (one trace)."""
    spans = [
        pb_span({"http.request.method": "GET", "url.path": f"/items/{i}", **attributes}, span_id=i.to_bytes(8, "big"))
        for i in range(first, first + count)
    ]
    if kind is not None:
        for span in spans:
            span.kind = kind  # type: ignore[assignment]
    return pb_request(spans)


async def post(client: TestClient[Any, Any], token: str, body: bytes, content_type: str = PROTOBUF, **headers: str):  # type: ignore[no-untyped-def]
    data = io.BytesIO(body) if len(body) > 1024 * 1024 else body  # aiohttp warns about big raw bodies
    return await client.post("/v1/traces", data=data, headers={"Content-Type": content_type, **auth(token), **headers})


def stored_paths(client: TestClient[Any, Any]) -> list[str]:
    cursor = client.server.app[STORE_KEY].cursor()  # type: ignore[union-attr]
    return [row[0] for row in cursor.execute("SELECT endpoint FROM request_logs ORDER BY endpoint").fetchall()]


async def test_protobuf_request_is_stored_and_answered_in_protobuf(api_client, tokens: Tokens) -> None:  # type: ignore[no-untyped-def]
    response = await post(api_client, tokens.ingest_only, payload(3).SerializeToString())
    assert response.status == 200 and response.content_type == PROTOBUF
    answer = ExportTraceServiceResponse.FromString(await response.read())
    assert not answer.HasField("partial_success")
    assert stored_paths(api_client) == ["/items/1", "/items/2", "/items/3"]
    # Retrievable through the API straight away, by id and by trace id.
    found = await api_client.get(
        f"/api/metrics/request_logs?trace_id={'0102030405060708090a0b0c0d0e0f10'}", headers=auth(tokens.admin)
    )
    results = (await found.json())["results"]
    assert sorted(r["endpoint"] for r in results) == ["/items/1", "/items/2", "/items/3"]
    one = await api_client.get(f"/api/metrics/request_logs/{results[0]['id']}", headers=auth(tokens.admin))
    assert one.status == 200 and (await one.json())["service_name"] == "remote-service"


async def test_json_request_is_answered_in_json(api_client, tokens: Tokens) -> None:  # type: ignore[no-untyped-def]
    response = await post(api_client, tokens.ingest_only, to_otlp_json(payload(2)), JSON)
    assert response.status == 200 and response.content_type == JSON
    assert await response.json() == {}
    assert stored_paths(api_client) == ["/items/1", "/items/2"]


@pytest.fixture(params=[True, False], ids=["aiohttp-inflates", "ingest-inflates"])
async def compressed_client(request, aiohttp_client, settings, tokens):  # type: ignore[no-untyped-def]
    """The service as usual, and started with auto_decompress off (the route inflates by itself)."""
    from query_api import create_app

    server = TestServer(create_app(settings))
    await server.start_server(auto_decompress=request.param)  # TestServer's own kwargs do not reach the parser
    client = await aiohttp_client(server)
    assert client.server.runner._kwargs["auto_decompress"] is request.param
    return client


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
async def test_compressed_bodies(compressed_client, tokens: Tokens, encoding: str) -> None:  # type: ignore[no-untyped-def]
    raw = payload(2).SerializeToString()
    body = gzip.compress(raw) if encoding == "gzip" else zlib.compress(raw)
    response = await post(compressed_client, tokens.ingest_only, body, **{"Content-Encoding": encoding})
    assert response.status == 200
    assert stored_paths(compressed_client) == ["/items/1", "/items/2"]


async def test_several_gzip_members_are_one_body(compressed_client, tokens: Tokens) -> None:  # type: ignore[no-untyped-def]
    raw = to_otlp_json(payload(2))
    body = gzip.compress(raw[:10]) + gzip.compress(raw[10:])
    response = await post(compressed_client, tokens.ingest_only, body, JSON, **{"Content-Encoding": "gzip"})
    assert response.status == 200 and len(stored_paths(compressed_client)) == 2


async def test_bad_gzip_is_a_400(compressed_client, tokens: Tokens) -> None:  # type: ignore[no-untyped-def]
    body = gzip.compress(payload(1).SerializeToString())
    for broken in (body[:-12], b"not gzip at all"):
        response = await post(compressed_client, tokens.ingest_only, broken, **{"Content-Encoding": "gzip"})
        assert response.status == 400
        message = status_pb2.Status.FromString(await response.read()).message
        # A cut-off stream may inflate to a cut-off (malformed) payload: either way the client is told.
        assert "compressed" in message or "malformed protobuf" in message
    assert stored_paths(compressed_client) == []


async def test_partial_success_names_the_rejected_spans(api_client, tokens: Tokens) -> None:  # type: ignore[no-untyped-def]
    request = payload(2)
    request.resource_spans[0].scope_spans[0].spans[1].span_id = b"\x01\x02"
    response = await post(api_client, tokens.ingest_only, request.SerializeToString())
    answer = ExportTraceServiceResponse.FromString(await response.read())
    assert response.status == 200 and answer.partial_success.rejected_spans == 1
    assert "spans[1]: span_id has 2 bytes, expected 8" in answer.partial_success.error_message
    response = await post(api_client, tokens.ingest_only, to_otlp_json(request), JSON)
    partial = (await response.json())["partialSuccess"]
    assert partial["rejectedSpans"] == "1" and "spanId has 2 bytes" in partial["errorMessage"]
    assert stored_paths(api_client) == ["/items/1"]


async def test_other_spans_are_ignored_and_counted(api_client, tokens: Tokens) -> None:  # type: ignore[no-untyped-def]
    response = await post(api_client, tokens.ingest_only, payload(4, kind=3).SerializeToString())  # CLIENT spans
    assert response.status == 200 and await response.read() == b""
    stats = api_client.server.app[INGEST_KEY].stats
    assert (stats.spans, stats.ignored, stats.rows) == (4, 4, 0)
    assert stored_paths(api_client) == []


async def test_a_retried_request_is_stored_once(api_client, tokens: Tokens) -> None:  # type: ignore[no-untyped-def]
    body = payload(3).SerializeToString()
    for _ in range(2):
        assert (await post(api_client, tokens.ingest_only, body)).status == 200
    assert len(stored_paths(api_client)) == 3


@pytest.mark.parametrize(
    ("body", "content_type", "message"),
    [
        (b"\x0a\x05\x0a\x03", PROTOBUF, "malformed protobuf"),
        (b'{"resourceSpans": 1}', JSON, "resourceSpans must be a list of objects"),
        (b"{", JSON, "malformed OTLP/JSON"),
    ],
)
async def test_malformed_payload_is_a_400_with_a_status_body(api_client, tokens, body, content_type, message) -> None:  # type: ignore[no-untyped-def]
    response = await post(api_client, tokens.ingest_only, body, content_type)
    assert response.status == 400 and response.content_type == content_type
    raw = await response.read()
    status = orjson.loads(raw) if content_type == JSON else status_pb2.Status.FromString(raw)
    text = status["message"] if content_type == JSON else status.message
    assert message in text


async def test_unsupported_content_type_and_encoding_are_415(api_client, tokens: Tokens) -> None:  # type: ignore[no-untyped-def]
    response = await post(api_client, tokens.ingest_only, b"x", "text/plain")
    assert response.status == 415 and "unsupported content type 'text/plain'" in (await response.json())["message"]
    response = await post(api_client, tokens.ingest_only, b"x", **{"Content-Encoding": "compress"})
    assert response.status == 415
    assert "unsupported content encoding 'compress'" in status_pb2.Status.FromString(await response.read()).message


@pytest.fixture
def settings(db_path) -> ServiceSettings:  # type: ignore[no-untyped-def]
    # A 64 KiB limit keeps the size tests small; decoding in a thread keeps them fast (no process to
    # spawn per test; `test_decoding_in_worker_processes` covers those). The rest is the default.
    return ServiceSettings.from_env({}, db=db_path, port=0, ingest_max_bytes=64 * 1024, ingest_workers=0)


async def test_over_the_size_limit_is_a_413(api_client, tokens: Tokens) -> None:  # type: ignore[no-untyped-def]
    big = payload(1, **{"http.request.body.content": "x" * 70_000}).SerializeToString()
    response = await post(api_client, tokens.ingest_only, big)
    assert response.status == 413
    message = status_pb2.Status.FromString(await response.read()).message
    assert "larger than 65536 bytes" in message and "REQLOG_INGEST_MAX_BYTES" in message  # what to change
    assert api_client.server.app[INGEST_KEY].stats.too_large == 1
    status = await (await api_client.get("/api/metrics/service", headers=auth(tokens.admin))).json()
    assert status["ingest"]["too_large"] == 1
    assert stored_paths(api_client) == []


def gzip_bomb(size: int) -> bytes:
    """`size` zero bytes, gzipped ~1000:1 (made in pieces, so the test never holds `size` bytes)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    zeros = bytes(1 << 20)
    return b"".join([*(packer.compress(zeros) for _ in range(size >> 20)), packer.flush()])


@pytest.mark.parametrize("auto_decompress", [True, False], ids=["aiohttp-inflates", "ingest-inflates"])
async def test_a_gzip_bomb_is_stopped_at_the_limit(db_path, aiohttp_client, tokens, auto_decompress: bool) -> None:  # type: ignore[no-untyped-def]
    from query_api import create_app

    settings = ServiceSettings.from_env({}, db=db_path, port=0, ingest_max_bytes=1024 * 1024, ingest_workers=0)
    server = TestServer(create_app(settings))
    await server.start_server(auto_decompress=auto_decompress)
    client = await aiohttp_client(server)
    bomb = gzip_bomb(64 * 1024 * 1024)  # 64 MiB from ~64 KiB
    tracemalloc.start()
    try:
        response = await post(client, tokens.ingest_only, bomb, **{"Content-Encoding": "gzip"})
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert response.status == 413
    assert "larger than 1048576 bytes" in status_pb2.Status.FromString(await response.read()).message
    assert peak < 16 * 1024 * 1024  # inflated whole, it would have taken 64 MiB at least


@pytest.mark.parametrize(
    ("who", "status", "detail"),
    [
        (None, 401, "Authentication credentials were not provided."),
        ("nonsense", 401, "Invalid token."),
        ("staff_viewer", 403, "You do not have permission to perform this action."),  # 3601 is not 3602
        ("inactive", 401, "User inactive or deleted."),
        ("admin", 200, None),
        ("ingest_only", 200, None),
    ],
)
async def test_credentials(api_client, tokens: Tokens, who: str | None, status: int, detail: str | None) -> None:  # type: ignore[no-untyped-def]
    headers = {"Content-Type": PROTOBUF}
    if who is not None:
        headers.update(auth(getattr(tokens, who, who)))
    response = await api_client.post("/v1/traces", data=payload(1).SerializeToString(), headers=headers)
    assert response.status == status
    if detail is not None:
        assert await response.json() == {"detail": detail}  # the query API's DRF errors
        if status == 401:
            assert response.headers["WWW-Authenticate"] == "Token"
        assert stored_paths(api_client) == []


class BlockedWriter:
    """Hold the service's writer inside its next (real) insert until released."""

    def __init__(self, client: TestClient[Any, Any], monkeypatch: pytest.MonkeyPatch, *, fail: bool = False) -> None:
        self.entered, self.opened = threading.Event(), threading.Event()
        store = client.server.app[STORE_KEY]  # type: ignore[union-attr]
        real = store.insert_table

        def gated(table: pa.Table, **kwargs: Any) -> tuple[int, list[tuple[Any, ...]]]:
            self.entered.set()
            assert self.opened.wait(10)
            if fail:
                raise StorageError("disk full")
            return real(table, **kwargs)

        monkeypatch.setattr(store, "insert_table", gated)
        self.undo = lambda: monkeypatch.setattr(store, "insert_table", real)


async def test_the_answer_waits_for_the_commit_and_concurrent_requests_share_it(
    api_client, tokens, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    writer = api_client.server.app[INGEST_KEY].writer
    blocked = BlockedWriter(api_client, monkeypatch)
    first = asyncio.create_task(post(api_client, tokens.ingest_only, payload(2).SerializeToString()))
    assert await asyncio.to_thread(blocked.entered.wait, 10)
    others = [
        asyncio.create_task(post(api_client, tokens.ingest_only, payload(2, first=10 * i).SerializeToString()))
        for i in range(1, 6)
    ]
    for _ in range(500):  # until all five are queued behind the running transaction
        if writer.pending_rows == 12:
            break
        await asyncio.sleep(0.01)
    assert writer.pending_rows == 12
    assert not first.done()  # not committed, so not answered
    before = writer.transactions
    blocked.opened.set()
    assert [r.status for r in await asyncio.gather(first, *others)] == [200] * 6
    assert writer.transactions - before == 2  # the first, then the five queued requests together
    assert len(stored_paths(api_client)) == 12


async def test_a_full_queue_answers_503_with_retry_after(db_path, aiohttp_client, tokens) -> None:  # type: ignore[no-untyped-def]
    from query_api import create_app

    settings = ServiceSettings.from_env(
        {}, db=db_path, port=0, ingest_queue_rows=5, ingest_retry_after=2, ingest_workers=0
    )
    client = await aiohttp_client(create_app(settings))
    blocked = BlockedWriter(client, monkeypatch := pytest.MonkeyPatch())
    try:
        first = asyncio.create_task(post(client, tokens.ingest_only, payload(4).SerializeToString()))
        assert await asyncio.to_thread(blocked.entered.wait, 10)
        response = await post(client, tokens.ingest_only, payload(2, first=100).SerializeToString())
        assert response.status == 503 and response.headers["Retry-After"] == "2"
        assert "the writer is behind" in status_pb2.Status.FromString(await response.read()).message
        blocked.opened.set()
        assert (await first).status == 200
        assert (await post(client, tokens.ingest_only, payload(2, first=100).SerializeToString())).status == 200
    finally:
        blocked.opened.set()
        monkeypatch.undo()
    assert client.server.app[INGEST_KEY].stats.refused == 1


async def test_a_failed_write_is_a_retryable_503(api_client, tokens, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    blocked = BlockedWriter(api_client, monkeypatch, fail=True)
    blocked.opened.set()
    body = payload(2).SerializeToString()
    response = await post(api_client, tokens.ingest_only, body)
    assert response.status == 503 and response.headers["Retry-After"] == "1"
    blocked.undo()
    assert (await post(api_client, tokens.ingest_only, body)).status == 200
    assert len(stored_paths(api_client)) == 2


async def test_acknowledged_rows_are_in_the_recent_cache(api_client, tokens: Tokens) -> None:  # type: ignore[no-untyped-def]
    cache = api_client.server.app[RECENT_KEY]
    assert (await post(api_client, tokens.ingest_only, payload(2).SerializeToString())).status == 200
    assert len(cache) == 2


@pytest.mark.parametrize("workers", [1, 2])
async def test_decoding_in_worker_processes(db_path, aiohttp_client, tokens, workers: int) -> None:  # type: ignore[no-untyped-def]
    from query_api import create_app

    settings = ServiceSettings.from_env({}, db=db_path, port=0, ingest_workers=workers, redact_headers="x-request-id")
    client = await aiohttp_client(create_app(settings))
    request = payload(2, **{"http.request.header.x_request_id": ("r-1",)})
    request.resource_spans[0].scope_spans[0].spans[1].trace_id = b"\x01"
    response = await post(client, tokens.ingest_only, request.SerializeToString())
    answer = ExportTraceServiceResponse.FromString(await response.read())
    assert response.status == 200 and answer.partial_success.rejected_spans == 1
    # The worker redacts with the service's settings.
    cursor = client.server.app[STORE_KEY].cursor()
    assert cursor.execute("SELECT request_headers FROM request_logs").fetchall() == [('{"X-Request-ID":"[REDACTED]"}',)]
    # A worker that dies costs its request a retryable 503, and the next request gets a new one.
    pool = client.server.app[INGEST_KEY].decoder
    processes = list(pool._executor._processes.values())
    assert len(processes) == workers  # all started with the first request
    for process in processes:
        process.kill()
        process.join(10)
    response = await post(client, tokens.ingest_only, payload(2, first=10).SerializeToString())
    assert response.status == 503 and response.headers["Retry-After"] == "1"
    assert (await post(client, tokens.ingest_only, payload(2, first=10).SerializeToString())).status == 200
    assert len(stored_paths(client)) == 3


async def test_bad_input_harms_neither_stored_rows_nor_the_service(db_path, aiohttp_client, tokens) -> None:  # type: ignore[no-untyped-def]
    from query_api import create_app

    client = await aiohttp_client(create_app(ServiceSettings.from_env({}, db=db_path, port=0, ingest_workers=0)))
    assert (await post(client, tokens.ingest_only, payload(3).SerializeToString())).status == 200
    cursor = client.server.app[STORE_KEY].cursor()
    before = cursor.execute("SELECT * FROM request_logs ORDER BY id").fetchall()

    good = payload(1, first=500).SerializeToString()
    kinds = pb_request(
        [
            pb_span(
                {
                    "http.request.method": "GET",
                    "url.path": "/kinds",
                    "http.request.header.x_array": ("a", 1, 2.5, True, b"\xff"),
                    "http.request.header.x_map": {"k": {"deep": [1, "x"]}},
                    "http.request.body.content": b"\xff\xfe not utf-8",
                    "user.id": 2**62,
                },
                span_id=b"\x07" * 8,
            )
        ]
    ).SerializeToString()
    many = pb_request(
        [pb_span({"http.request.method": "GET"}, span_id=(1000 + i).to_bytes(8, "big")) for i in range(20_000)]
    ).SerializeToString()
    answers = [
        await post(client, tokens.ingest_only, body, content_type)
        for body, content_type in [
            (good[: len(good) // 2], PROTOBUF),  # truncated
            (b"\x00" * 100, PROTOBUF),  # zeros: field number 0 does not exist
            (good.replace(b"/items/500", b"/items/\xff\xfe\xfd"), PROTOBUF),  # not UTF-8: that span rejected
            (b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": 5}]}]}]}', JSON),  # wrong types
            (b'{"resourceSpans": [{"scopeSpans": "spans"}]}', JSON),
            (b"", PROTOBUF),  # empty: a valid, empty request
            (b"{}", JSON),
            (kinds, PROTOBUF),  # every AnyValue kind
            (many, PROTOBUF),  # 20,000 spans in one request
        ]
    ]
    assert [a.status for a in answers] == [400, 400, 200, 200, 400, 200, 200, 200, 200]
    assert (await post(client, tokens.ingest_only, good)).status == 200  # still takes traffic
    after = cursor.execute("SELECT * FROM request_logs ORDER BY id").fetchall()
    assert after[: len(before)] == before  # nothing stored earlier changed
    assert len(after) == len(before) + 1 + 20_000 + 1
