"""OTLP ingest: one poisoned span in a request costs at most its own bad value, in both encodings.

A real service (aiohttp on a loopback port, a real DuckDB file) receives requests holding one
poisoned span among good ones. Before this change every OTLP/JSON poison below made the whole
request a 400 (orjson refuses the envelope), losing every span in it.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import orjson
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from query_api import ServiceSettings, create_app
from query_api.keys import STORE_KEY
from tests.otlp_payloads import pb_request, pb_span, to_otlp_json

from .harness import auth, make_accounts

# What replaces a placeholder string value in the JSON text: values orjson refuses.
JSON_POISONS = {
    "lone surrogate escape in the path": ("url.path", '"/a\\ud800b"'),
    "lone surrogate escape in the user agent": ("user_agent.original", '"Mozilla \\udcff"'),
    "lone surrogate escape in a header": ("http.request.header.x_id", '"v\\ud800"'),
    "1e999 status": ("http.response.status_code", "1e999"),
    "NaN status": ("http.response.status_code", "NaN"),
    "kvlist nested 3000 deep": (
        "http.request.body.content",
        '{"kvlistValue":{"values":[{"key":"a","value":' * 3000 + '{"stringValue":"x"}' + "}]}}" * 3000,
    ),
}
# Protobuf strings must be UTF-8: a span with one that is not loses at most itself.
PB_POISONS = {"invalid UTF-8 in the path": b"/\xff\xfe", "encoded surrogate in the path": b"/\xed\xa0\x80"}


def _spans(size: int) -> list[Any]:
    return [
        pb_span({"http.request.method": "GET", "url.path": f"/ok/{i}"}, span_id=(i + 1).to_bytes(8, "big"))
        for i in range(size)
    ]


def _json_payload(size: int, at: int, poison: str) -> bytes:
    key, raw = JSON_POISONS[poison]
    spans = _spans(size)
    spans[at].attributes.add(key=key).value.string_value = "POISON-PLACEHOLDER"
    if key == "url.path":
        del spans[at].attributes[1]
    text = to_otlp_json(pb_request(spans)).decode()
    kind = "stringValue" if "kvlist" not in poison else None
    placeholder = '{"stringValue":"POISON-PLACEHOLDER"}'
    replacement = raw if kind is None else f'{{"{"doubleValue" if raw[0] in "1N" else kind}":{raw}}}'
    assert placeholder in text
    return text.replace(placeholder, replacement).encode()


def _pb_payload(size: int, at: int, poison: str) -> bytes:
    spans = _spans(size)
    spans[at].attributes[1].value.string_value = "POISON-PLACEHOLDER"
    data = pb_request(spans).SerializeToString()
    return data.replace(b"POISON-PLACEHOLDER", PB_POISONS[poison].ljust(len("POISON-PLACEHOLDER"), b"x"))


async def _ingest(db: Path, body: bytes, content_type: str) -> tuple[int, bytes, list[str]]:
    service = ServiceSettings.from_env({}, db=db, port=0, ingest_workers=0)
    tokens = make_accounts(service.accounts_path)
    async with TestClient(TestServer(create_app(service), host="127.0.0.1")) as client:
        response = await client.post(
            "/v1/traces", data=body, headers={"Content-Type": content_type, **auth(tokens.ingest_only)}
        )
        answer = await response.read()
        cursor = client.server.app[STORE_KEY].cursor()
        spans = [row[0] for row in cursor.execute("SELECT span_id FROM request_logs").fetchall()]
    return response.status, answer, spans


_SETTINGS = settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@_SETTINGS
@given(size=st.integers(1, 8), at=st.integers(0, 7), poison=st.sampled_from(sorted(JSON_POISONS)))
def test_otlp_json_one_poisoned_span_stores_every_span(tmp_path_factory: Any, size: int, at: int, poison: str) -> None:
    at %= size
    db = tmp_path_factory.mktemp("db") / "logs.duckdb"
    status, answer, stored = asyncio.run(_ingest(db, _json_payload(size, at, poison), "application/json"))
    assert status == 200, answer
    assert sorted(stored) == sorted(f"{i + 1:016x}" for i in range(size))  # the poisoned one too
    partial = orjson.loads(answer).get("partialSuccess", {})
    assert int(partial.get("rejectedSpans", 0)) == 0
    # Stored with U+FFFD: said in a partial-success warning. A user agent is only classified, never
    # stored, and classification takes any string: nothing to repair or report.
    if "surrogate" in poison and "user agent" not in poison:
        assert "replaced" in partial["errorMessage"]


@_SETTINGS
@given(size=st.integers(1, 8), at=st.integers(0, 7), poison=st.sampled_from(sorted(PB_POISONS)))
def test_protobuf_one_poisoned_span_costs_only_itself(tmp_path_factory: Any, size: int, at: int, poison: str) -> None:
    at %= size
    db = tmp_path_factory.mktemp("db") / "logs.duckdb"
    status, answer, stored = asyncio.run(_ingest(db, _pb_payload(size, at, poison), "application/x-protobuf"))
    assert status == 200
    assert sorted(stored) == sorted(f"{i + 1:016x}" for i in range(size) if i != at)
    partial = ExportTraceServiceResponse.FromString(answer).partial_success
    assert partial.rejected_spans == 1 and "url.path" in partial.error_message


def test_the_writer_stores_a_batch_whose_one_row_the_database_refuses(tmp_path: Path) -> None:
    from exporter.store import RequestLogStore, rows_to_arrow
    from query_api.ingest.writer import Writer

    from .harness import make_row

    store = RequestLogStore(tmp_path / "logs.duckdb")
    writer = Writer(store)
    writer.start()
    try:
        table = rows_to_arrow([make_row(i, response="{refused" if i == 3 else "[]") for i in range(8)])
        assert writer.submit(table).result(timeout=60) == 8  # before: StorageError, nothing stored
        assert store.count() == 8 and writer.rows_written == 8 and writer.failures == 0
    finally:
        writer.close()
        store.close()
