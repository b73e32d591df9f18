"""Property-based tests: whatever bytes arrive, the decoder answers with rows or a clean decode error.

The strategies build OTLP requests no SDK would send (ids of any length, any span kind, times at
the edges of their range, attributes of every AnyValue kind including bytes that are not UTF-8,
nested arrays and maps, huge integers, NaN) and then damage them (truncation, flipped bytes).
"""

from __future__ import annotations

import re

import orjson
import pytest
from google.protobuf.message import DecodeError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from exporter import Redactor, RequestLog
from exporter.otlp import DecodedRequest, OtlpDecodeError, decode_protobuf
from exporter.otlp_json import decode_json
from exporter.otlp_wire import AttributeDecoder, any_value, python_value
from exporter.store import values_to_arrow
from tests.otlp_payloads import any_value as any_value_message
from tests.otlp_payloads import pb_request, pb_span, to_otlp_json

REDACTOR = Redactor()
HEX32 = re.compile(r"[0-9a-f]{32}")
HEX16 = re.compile(r"[0-9a-f]{16}")
PROPERTY = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

KEYS = st.sampled_from(
    [
        "http.request.method",
        "http.method",
        "url.path",
        "url.query",
        "http.target",
        "http.url",
        "url.full",
        "http.response.status_code",
        "http.status_code",
        "client.address",
        "user_agent.original",
        "user.id",
        "user.name",
        "user.full_name",
        "http.request.body.content",
        "reqlog.request.body.content_type",
        "reqlog.request.body.truncated",
        "http.request.body.size",
        "http.request.header.content_type",
        "http.request.header.authorization",
        "http.response.header.set_cookie",
        "error.type",
        "http.route",
    ]
) | st.text(max_size=30)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=40)
    | st.binary(max_size=40)
    | st.sampled_from(["GET", "post", "/a/b?x=1&y=2", '{"password": "x", "a": [1, 2]}', "application/json", "500"])
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=5,
)
ATTRIBUTES = st.dictionaries(KEYS, VALUES, max_size=8).map(lambda a: {"http.request.method": "GET", **a}) | (
    st.dictionaries(KEYS, VALUES, max_size=4)
)
SPANS = st.builds(
    pb_span,
    ATTRIBUTES,
    trace_id=st.binary(min_size=16, max_size=16) | st.binary(max_size=20),
    span_id=st.binary(min_size=8, max_size=8) | st.binary(max_size=10),
    kind=st.integers(min_value=0, max_value=6),
    start=st.integers(min_value=0, max_value=2**64 - 1),
    end=st.integers(min_value=0, max_value=2**64 - 1),
    events=st.lists(
        st.tuples(st.sampled_from(["exception", "log"]), st.dictionaries(KEYS, VALUES, max_size=3)), max_size=2
    ),
)
REQUESTS = st.builds(pb_request, st.lists(SPANS, max_size=4), service=st.none() | st.text(max_size=20))


def check(decoded: DecodedRequest) -> None:
    """The invariants of any successful decode."""
    assert decoded.spans == len(decoded.rows) + decoded.ignored + decoded.rejected
    assert (decoded.rejected == 0) == (decoded.error_message == "")
    for row in (RequestLog(*values) for values in decoded.rows):
        assert row.trace_id is not None and HEX32.fullmatch(row.trace_id)
        assert row.span_id is not None and HEX16.fullmatch(row.span_id)
        assert row.method
        for column in (row.query_params, row.body, row.response, row.request_headers, row.response_headers):
            if column is not None:
                orjson.loads(column)  # JSON columns always hold valid JSON text
    if decoded.rows:
        assert values_to_arrow(decoded.rows).num_rows == len(decoded.rows)  # every row fits the table


@PROPERTY
@given(REQUESTS)
def test_any_request_decodes_alike_from_protobuf_and_json(request) -> None:  # type: ignore[no-untyped-def]
    from_pb = decode_protobuf(request.SerializeToString(), redactor=REDACTOR)
    from_json = decode_json(to_otlp_json(request), redactor=REDACTOR)
    check(from_pb)
    check(from_json)
    assert (from_pb.spans, from_pb.ignored, from_pb.rejected) == (
        from_json.spans,
        from_json.ignored,
        from_json.rejected,
    )
    assert from_pb.rows == from_json.rows


@PROPERTY
@given(REQUESTS, st.data())
def test_damaged_protobuf_is_decoded_or_refused_cleanly(request, data) -> None:  # type: ignore[no-untyped-def]
    payload = bytearray(request.SerializeToString())
    if payload:
        cut = data.draw(st.integers(min_value=0, max_value=len(payload)))
        payload = payload[:cut]
        for _ in range(data.draw(st.integers(min_value=0, max_value=3))):
            if payload:
                at = data.draw(st.integers(min_value=0, max_value=len(payload) - 1))
                payload[at] = data.draw(st.integers(min_value=0, max_value=255))
    try:
        decoded = decode_protobuf(bytes(payload), redactor=REDACTOR)
    except OtlpDecodeError as exc:
        assert str(exc).startswith("malformed protobuf")
    else:
        check(decoded)


@PROPERTY
@given(st.binary(max_size=300))
def test_random_bytes_never_escape_as_another_error(payload: bytes) -> None:
    for decode in (decode_protobuf, decode_json):
        try:
            decoded = decode(payload, redactor=REDACTOR)
        except OtlpDecodeError:
            continue
        check(decoded)


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False)
    | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=12), inner, max_size=3),
    max_leaves=10,
)


@PROPERTY
@given(REQUESTS, st.data())
def test_json_with_any_field_replaced_is_decoded_or_refused_cleanly(request, data) -> None:  # type: ignore[no-untyped-def]
    document = orjson.loads(to_otlp_json(request))
    # Walk to a random place in the document and put an arbitrary JSON value there.
    node = document
    for _ in range(data.draw(st.integers(min_value=0, max_value=8))):
        children = list(node.items()) if isinstance(node, dict) else list(enumerate(node)) if node else []
        children = [(k, v) for k, v in children if isinstance(v, dict | list)]
        if not children:
            break
        key, node = data.draw(st.sampled_from(children))
    if isinstance(node, dict) and node:
        node[data.draw(st.sampled_from(sorted(node)))] = data.draw(JSON_VALUES)
    elif isinstance(node, list) and node:
        node[data.draw(st.integers(min_value=0, max_value=len(node) - 1))] = data.draw(JSON_VALUES)
    try:
        decoded = decode_json(orjson.dumps(document), redactor=REDACTOR)
    except OtlpDecodeError as exc:
        assert str(exc).startswith("malformed OTLP/JSON")
    else:
        check(decoded)


ANY_VALUES = st.builds(any_value_message, VALUES)


@PROPERTY
@given(ANY_VALUES)
def test_the_fast_any_value_decoder_agrees_with_protobuf(value) -> None:  # type: ignore[no-untyped-def]
    assert repr(any_value(value.SerializeToString())) == repr(python_value(value, 0))  # repr: NaN == NaN


@PROPERTY
@given(st.binary(max_size=40))
def test_the_fast_any_value_decoder_refuses_what_protobuf_refuses(raw: bytes) -> None:
    try:
        expected = python_value(AnyValue.FromString(raw), 0)
    except DecodeError:
        with pytest.raises(ValueError, match="malformed AnyValue"):
            any_value(raw)
    else:
        assert repr(any_value(raw)) == repr(expected)


@PROPERTY
@given(st.text(max_size=20), ANY_VALUES, st.booleans())
def test_the_attribute_decoder_agrees_with_protobuf(key: str, value, twice: bool) -> None:  # type: ignore[no-untyped-def]
    raw = KeyValue(key=key, value=value).SerializeToString()
    decoder = AttributeDecoder((), ("",))  # every key
    for _ in range(2 if twice else 1):  # the second time from the memo
        assert repr(decoder.decode([raw])) == repr({key: python_value(value, 0)})
    assert AttributeDecoder(()).decode([raw]) == {}


@PROPERTY
@given(st.binary(max_size=40))
def test_the_attribute_decoder_refuses_what_protobuf_refuses(raw: bytes) -> None:
    decoder = AttributeDecoder((), ("",))  # every key
    try:
        kv = KeyValue.FromString(raw)
    except DecodeError:
        with pytest.raises(ValueError, match="malformed"):
            decoder.decode([raw])
    else:
        assert repr(decoder.decode([raw])) == repr({kv.key: python_value(kv.value, 0)})
