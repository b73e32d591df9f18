"""Decoding OTLP requests into rows: both encodings, rejected and ignored spans, the answers."""

from __future__ import annotations

import dataclasses
import json

import orjson
import pytest
from google.rpc import status_pb2
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from exporter import REDACTED, Redactor, RequestLog, span_to_row
from exporter.otlp import DecodedRequest, OtlpDecodeError, decode_protobuf, encode_response, encode_status
from exporter.otlp_json import decode_json
from tests.otlp_payloads import otlp_request, pb_request, pb_span, to_otlp_json

from .spans import make_span

REDACTOR = Redactor()
ATTRIBUTES = {
    "http.request.method": "POST",
    "url.scheme": "https",
    "url.path": "/api/orders",
    "url.query": "page=2&tag=a&tag=b&token=abc",
    "http.route": "/api/orders",
    "http.response.status_code": 201,
    "client.address": "203.0.113.9",
    "user_agent.original": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/142.0.0.0 Safari/537.36",
    "user.id": "42",
    "user.name": "alice",
    "user.full_name": "Alice Liddell",
    "http.request.header.authorization": ("Token secret",),
    "http.request.header.x_request_id": ("abc",),
    "http.response.header.content_type": ("application/json",),
    "http.request.body.content": '{"sku": "A-1", "password": "hunter2"}',
    "reqlog.request.body.content_type": "application/json",
    "http.response.body.content": '{"id": 7}',
    "reqlog.response.body.content_type": "application/json",
    "server.port": 443,  # not read by any row column: never converted
}


def decode(payload: bytes, *, json_encoding: bool) -> DecodedRequest:
    return (decode_json if json_encoding else decode_protobuf)(payload, redactor=REDACTOR)


def rows(decoded: DecodedRequest) -> list[RequestLog]:
    return [RequestLog(*values) for values in decoded.rows]


@pytest.fixture(params=["protobuf", "json"])
def encoding(request: pytest.FixtureRequest) -> str:
    return request.param  # type: ignore[no-any-return]


def encode(message, encoding: str) -> bytes:  # type: ignore[no-untyped-def]
    return to_otlp_json(message) if encoding == "json" else message.SerializeToString()


def test_sdk_span_makes_the_same_row_as_the_in_process_path(
    tracer_provider: TracerProvider, span_exporter: InMemorySpanExporter, encoding: str
) -> None:
    span = make_span(tracer_provider, span_exporter, ATTRIBUTES, exception=ValueError("boom"))
    decoded = decode(encode(otlp_request([span]), encoding), json_encoding=encoding == "json")
    assert (decoded.spans, decoded.ignored, decoded.rejected) == (1, 0, 0)
    assert rows(decoded) == [span_to_row(span, REDACTOR)]
    row = rows(decoded)[0]
    assert row.service_name == "test-service"
    assert row.exception_type == "ValueError" and row.exception_message == "boom"
    assert json.loads(row.request_headers or "{}")["Authorization"] == REDACTED
    assert json.loads(row.body or "{}") == {"sku": "A-1", "password": REDACTED}


def test_a_request_of_many_spans_redacts_like_the_in_process_path(
    tracer_provider: TracerProvider, span_exporter: InMemorySpanExporter, encoding: str
) -> None:
    # Enough spans for the batch secret screen's vectorised path; every other body holds a secret.
    bodies = ['{"order": 1}', '{"user": {"Password": "hunter2"}}', '{"note": "pass\\u0077ord"}', '{"api-key": "k"}']
    spans = [
        make_span(tracer_provider, span_exporter, {**ATTRIBUTES, "http.request.body.content": bodies[n % 4]})
        for n in range(40)
    ]
    decoded = decode(encode(otlp_request(spans), encoding), json_encoding=encoding == "json")
    assert rows(decoded) == [span_to_row(span, REDACTOR) for span in spans]
    assert all("hunter2" not in (row.body or "") for row in rows(decoded))
    assert json.loads(rows(decoded)[3].body or "{}") == {"api-key": REDACTED}


def test_spans_that_are_not_http_server_spans_are_ignored_and_counted(
    tracer_provider: TracerProvider, span_exporter: InMemorySpanExporter, encoding: str
) -> None:
    spans = [
        make_span(tracer_provider, span_exporter, ATTRIBUTES),
        make_span(tracer_provider, span_exporter, ATTRIBUTES, kind=SpanKind.CLIENT),
        make_span(tracer_provider, span_exporter, {"db.system": "postgresql"}, kind=SpanKind.INTERNAL),
        make_span(tracer_provider, span_exporter, {"rpc.system": "grpc"}),  # server, but no HTTP method
    ]
    decoded = decode(encode(otlp_request(spans), encoding), json_encoding=encoding == "json")
    assert (decoded.spans, len(decoded.rows), decoded.ignored, decoded.rejected) == (4, 1, 3, 0)
    assert encode_response(decoded, json=encoding == "json") in (b"", b"{}")  # no partial_success


@pytest.mark.parametrize(
    ("span_fields", "reason"),
    [
        ({"trace_id": b"\x01" * 15}, "trace_id has 15 bytes, expected 16"),
        ({"span_id": b"\x01" * 9}, "span_id has 9 bytes, expected 8"),
        ({"trace_id": b""}, "trace_id has 0 bytes"),
        ({"trace_id": bytes(16)}, "trace_id is all zeros"),
        ({"span_id": bytes(8)}, "span_id is all zeros"),
        ({"start": 0}, "start_time_unix_nano is missing"),
    ],
)
def test_malformed_spans_are_rejected_and_the_rest_stored(span_fields: dict, reason: str, encoding: str) -> None:
    good = pb_span({"http.request.method": "GET", "url.path": "/ok"}, span_id=b"\x09" * 8)
    bad = pb_span({"http.request.method": "GET", "url.path": "/bad"}, **span_fields)
    decoded = decode(encode(pb_request([good, bad]), encoding), json_encoding=encoding == "json")
    assert [row.endpoint for row in rows(decoded)] == ["/ok"]
    assert decoded.rejected == 1
    if encoding == "json":  # OTLP/JSON names the fields in lowerCamelCase
        reason = reason.replace("trace_id", "traceId").replace("span_id", "spanId")
    assert reason in decoded.error_message
    assert "spans[1]" in decoded.error_message


def test_partial_success_answer_in_both_encodings() -> None:
    decoded = DecodedRequest(spans=9, rejected=7)
    for i in range(7):
        decoded.reject(f"spans[{i}]", "span_id has 3 bytes, expected 8")
    decoded.rejected = 7
    message = decoded.error_message
    assert message.startswith("7 span(s) rejected: spans[0]: span_id has 3 bytes") and message.endswith("and 2 more")
    response = ExportTraceServiceResponse.FromString(encode_response(decoded, json=False))
    assert response.partial_success.rejected_spans == 7
    assert response.partial_success.error_message == message
    assert orjson.loads(encode_response(decoded, json=True)) == {
        "partialSuccess": {"rejectedSpans": "7", "errorMessage": message}
    }


def test_status_bodies() -> None:
    status = status_pb2.Status.FromString(encode_status(3, "bad payload", json=False))
    assert (status.code, status.message) == (3, "bad payload")
    assert orjson.loads(encode_status(14, "later", json=True)) == {"code": 14, "message": "later"}


def test_every_any_value_kind_is_decoded_alike_in_both_encodings() -> None:
    attributes = {
        "http.request.method": "GET",
        "url.path": "/kinds",
        "http.response.status_code": 200,
        "http.request.header.x_list": ("a", "b"),
        "http.request.header.x_number": (1.5,),
        "http.request.header.x_bool": True,
        "http.request.header.x_map": {"nested": ["x", 1]},
        "http.request.header.x_bytes": b"\xffraw",
        "http.request.header.x_empty": None,
        "http.request.body.content": b"\xff\xfebinary",  # not UTF-8: kept as size only
        "user.id": 7,
    }
    request = pb_request([pb_span(attributes)])
    from_pb = decode(request.SerializeToString(), json_encoding=False)
    from_json = decode(to_otlp_json(request), json_encoding=True)
    assert from_pb.rows == from_json.rows and len(from_pb.rows) == 1
    row = rows(from_pb)[0]
    headers = json.loads(row.request_headers or "{}")
    assert headers["X-List"] == "a, b" and headers["X-Number"] == "1.5" and headers["X-Bool"] == "True"
    assert headers["X-Bytes"] == "\ufffdraw"
    assert row.body is None and row.user_id == "7" and row.service_name == "remote-service"


@pytest.mark.parametrize(
    "payload",
    [b"\x0a\x05\x0a\x03", b"\xff\xff\xff", b"\x0a\x02\xff\xfe", b"\x0a\x03\x0a\x01\x0a"],
    ids=["truncated", "garbage", "bad-utf8-string", "length-past-the-end"],
)
def test_malformed_protobuf_is_a_decode_error(payload: bytes) -> None:
    with pytest.raises(OtlpDecodeError, match="malformed protobuf"):
        decode_protobuf(payload, redactor=REDACTOR)


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"", "malformed OTLP/JSON"),
        (b"{", "malformed OTLP/JSON"),
        (b"[]", "must be an object"),
        (b'"\xff"', "malformed OTLP/JSON"),
        (b'{"resourceSpans": 5}', "resourceSpans must be a list of objects"),
        (b'{"resourceSpans": [{"scopeSpans": [{"spans": {}}]}]}', "resourceSpans[0].scopeSpans[0].spans must be"),
        (b'{"resourceSpans": [{"resource": []}]}', "resource must be an object"),
    ],
)
def test_malformed_json_is_a_decode_error(payload: bytes, message: str) -> None:
    with pytest.raises(OtlpDecodeError) as info:
        decode_json(payload, redactor=REDACTOR)
    assert message in str(info.value)


def test_empty_requests_are_valid(encoding: str) -> None:
    payload = b"{}" if encoding == "json" else b""
    decoded = decode(payload, json_encoding=encoding == "json")
    assert (decoded.spans, decoded.rows, decoded.rejected) == (0, [], 0)


def test_unknown_fields_are_ignored() -> None:
    request = pb_request([pb_span({"http.request.method": "GET", "url.path": "/x"})])
    # Field 99 (varint) appended to the request, as a newer client's extension would be.
    decoded = decode_protobuf(request.SerializeToString() + b"\x98\x06\x01", redactor=REDACTOR)
    assert [row.endpoint for row in rows(decoded)] == ["/x"]
    document = orjson.loads(to_otlp_json(request))
    document["futureField"] = {"a": 1}
    span = document["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    span["futureSpanField"] = [1, 2]
    span["attributes"][0]["value"]["futureKind"] = 1
    decoded = decode_json(orjson.dumps(document), redactor=REDACTOR)
    assert [row.endpoint for row in rows(decoded)] == ["/x"]


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"traceId": 12}, "traceId must be a hex string"),
        ({"traceId": "zz" * 16}, "traceId is not hex"),
        ({"spanId": "0102"}, "spanId has 2 bytes, expected 8"),
        ({"startTimeUnixNano": "soon"}, "startTimeUnixNano must be an unsigned 64-bit integer"),
        ({"startTimeUnixNano": str(1 << 64)}, "out of the unsigned 64-bit range"),
        ({"kind": [2]}, "kind must be an integer"),
        ({"attributes": {"a": 1}}, "attributes must be a list"),
        ({"attributes": [{"key": "url.path", "value": {"stringValue": 5}}]}, "mistyped AnyValue"),
        ({"attributes": [{"key": "url.path", "value": {"intValue": "x"}}]}, "intValue must be an integer"),
        ({"attributes": [{"key": "url.path", "value": {"bytesValue": "%%"}}]}, "bytesValue must be base64"),
        ({"events": [{"name": "exception", "attributes": 3}]}, "attributes must be a list"),
    ],
)
def test_json_spans_with_wrong_field_types_are_rejected(change: dict, reason: str) -> None:
    request = pb_request([pb_span({"http.request.method": "GET"}), pb_span({"http.request.method": "GET"})])
    document = orjson.loads(to_otlp_json(request))
    document["resourceSpans"][0]["scopeSpans"][0]["spans"][1].update(change)
    decoded = decode_json(orjson.dumps(document), redactor=REDACTOR)
    assert (len(decoded.rows), decoded.rejected) == (1, 1)
    assert reason in decoded.error_message


def test_json_accepts_numbers_for_int64_and_the_enum_name() -> None:
    document = orjson.loads(to_otlp_json(pb_request([pb_span({"http.request.method": "GET", "x": 1})])))
    span = document["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    span["kind"] = "SPAN_KIND_SERVER"
    span["startTimeUnixNano"] = int(span["startTimeUnixNano"])
    span["attributes"].append({"key": "http.response.status_code", "value": {"intValue": 404}})
    decoded = decode_json(orjson.dumps(document), redactor=REDACTOR)
    assert [(row.status_code, row.duration) for row in rows(decoded)] == [(404, 0.115958)]


def test_many_spans_in_one_request() -> None:
    spans = [pb_span({"http.request.method": "GET"}, span_id=i.to_bytes(8, "big")) for i in range(1, 5001)]
    decoded = decode_protobuf(pb_request(spans).SerializeToString(), redactor=REDACTOR)
    assert len({row.span_id for row in rows(decoded)}) == 5000


def test_a_field_of_the_wrong_wire_type_is_skipped_like_an_unknown_field() -> None:
    # resource_spans (field 1) sent as a varint: protobuf keeps it as an unknown field.
    decoded = decode_protobuf(b"\x08\x01", redactor=REDACTOR)
    assert (decoded.spans, decoded.rows) == (0, [])


def test_deeply_nested_values_do_not_recurse_without_bound() -> None:
    value: object = "leaf"
    for _ in range(40):  # protobuf itself refuses nesting past 100 messages
        value = [value]
    request = pb_request([pb_span({"http.request.method": "GET", "http.request.header.x_deep": value})])
    assert len(decode_protobuf(request.SerializeToString(), redactor=REDACTOR).rows) == 1
    document = orjson.loads(to_otlp_json(request))
    document["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["attributes"][1]["value"] = "DEEP"
    deep = b'{"arrayValue": {"values": [' * 300 + b'{"stringValue": "leaf"}' + b"]}}" * 300  # 900 JSON levels
    payload = orjson.dumps(document).replace(b'"DEEP"', deep)
    assert len(decode_json(payload, redactor=REDACTOR).rows) == 1


def test_decoded_request_is_a_plain_dataclass() -> None:
    assert dataclasses.asdict(DecodedRequest()) == {
        "rows": [],
        "spans": 0,
        "ignored": 0,
        "rejected": 0,
        "errors": [],
        "repaired": 0,
        "notes": [],
    }


def test_a_malformed_value_costs_its_span_only_if_a_row_reads_it() -> None:
    good = pb_span({"http.request.method": "GET", "url.path": "/ok"}, span_id=b"\x09" * 8)
    bad = pb_span({"http.request.method": "GET", "url.path": "/bad", "db.statement": "x"})
    request = pb_request([good, bad])
    payload = request.SerializeToString()
    # Make the second span's url.path a string that is not UTF-8, and the unread db.statement garbage.
    payload = payload.replace(b"\n\x04/bad", b"\n\x04\xff\xfe\xfd\xfc").replace(b"\n\x01x", b"\xff\x01x")
    decoded = decode_protobuf(payload, redactor=REDACTOR)
    assert [row.endpoint for row in rows(decoded)] == ["/ok"]
    assert decoded.rejected == 1 and "attribute 'url.path': malformed AnyValue" in decoded.error_message
    # The garbage in an attribute no row reads is never looked at.
    payload = request.SerializeToString().replace(b"\n\x01x", b"\xff\x01x")
    assert len(decode_protobuf(payload, redactor=REDACTOR).rows) == 2
