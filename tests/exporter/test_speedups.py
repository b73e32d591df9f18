"""The C speedups agree with their Python reference, and flattening gives the same rows either way."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import msgspec
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, ArrayValue, KeyValue
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from exporter import REDACTED, Redactor, header_attributes, otlp, speedups
from exporter.flatten import span_values
from exporter.header_attributes import collect_headers, headers_json_columns
from exporter.otlp_wire import AttributeDecoder
from exporter.query_strings import parse_query
from exporter.row import COLUMN_NAMES, JSON_COLUMNS

from ..speedups_gate import C_ONLY, REQUIRED
from .spans import make_span

PROPERTY = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
REDACTOR = Redactor()
_speedups = speedups._speedups


@pytest.mark.skipif(not REQUIRED, reason="REQLOG_REQUIRE_SPEEDUPS is not 1 (make test sets it where cc or gcc is)")
def test_the_c_speedups_were_compiled() -> None:
    # The extension is optional at install time, so a compile error would only show as slowness.
    assert speedups.COMPILED, "exporter/_speedups.c did not compile: reinstall with a C compiler (make clean test)"


# -- headers_json ------------------------------------------------------------------------------

HEADER_TEXT = st.text(alphabet=st.characters(codec="utf-8"), max_size=30) | st.sampled_from(
    [
        'a"b',
        "back\\slash",
        "tab\there",
        "nl\n",
        "\x00\x1f\x7f",
        "caf\u00e9",
        "\u2028",
        "/path",
        "/a?token=x",
        "/b?page=2&Sig=1",
        "https://x.example/y#access_token=z",
        "/c;jsessionid=1",
        "/d?pass%77ord=1",
        "/e?key=f",
    ]
)
HEADER_VALUES = (
    st.tuples(HEADER_TEXT) | st.lists(HEADER_TEXT, max_size=3).map(tuple) | st.sampled_from([(1,), (True, "x")])
)
HEADER_NAMES = st.sampled_from(
    [
        "",
        "user_agent",
        "user-agent",
        "authorization",
        "cookie",
        "set_cookie",
        "x_request_id",
        "content_type",
        "\u00e9tag",
        "x_a",
        "location",
        "referer",
        "content-location",
        "x_csrf_token",
        "api-key",
        "private_token",
    ]
) | st.text(min_size=1, max_size=8)
HEADER_KEYS = st.tuples(st.sampled_from(["http.request.header.", "http.response.header."]), HEADER_NAMES).map("".join)
ATTRIBUTES = st.dictionaries(HEADER_KEYS | st.sampled_from(["url.path", "http.route"]), HEADER_VALUES, max_size=12)


def _by_dicts(attributes: dict[str, object], redactor: Redactor) -> tuple[str | None, str | None]:
    request, response = collect_headers(attributes, redactor)
    return (orjson.dumps(request).decode() if request else None, orjson.dumps(response).decode() if response else None)


@PROPERTY
@given(ATTRIBUTES, st.sampled_from([REDACTOR, Redactor.build(keep_headers=["cookie"], add_headers=["x-a"])]))
def test_header_json_is_what_orjson_writes_for_the_header_dicts(
    attributes: dict[str, object], redactor: Redactor
) -> None:
    assert headers_json_columns(attributes, redactor) == _by_dicts(attributes, redactor)


@C_ONLY
def test_headers_json_in_c_takes_the_usual_span_and_leaves_the_rest() -> None:
    known: dict[str, tuple[bytes, bool | None]] = {}
    usual = {
        "url.path": "/",
        "http.request.header.accept": ("*/*",),
        "http.request.header.authorization": ("T",),
        "http.response.header.content_type": ("text/html",),
        "http.response.header.location": ("/a?b=1",),
    }
    assert speedups.headers_json(usual, known, REDACTOR) is False  # keys not learnt yet
    headers_json_columns(usual, REDACTOR)
    learnt = {k: v for k, v in header_attributes._FRAGMENTS[REDACTOR.headers].items() if k in usual}
    assert speedups.headers_json(usual, learnt, REDACTOR) == (
        '{"Accept":"*/*","Authorization":"[REDACTED]"}',
        '{"Content-Type":"text/html","Location":"/a?b=1"}',
    )
    for unusual in ({"http.request.header.accept": ("a", "b")}, {"http.request.header.accept": ("*/*",),
                    "http.request.header.Accept": ("x",)}, {"http.request.header.accept": [1]},
                    {"http.response.header.location": ("/a?Token=1",)},  # a URL that may hold a secret
                    {"http.response.header.location": ("/caf\u00e9",)}):  # fmt: skip
        headers_json_columns(unusual, REDACTOR)
        assert speedups.headers_json(unusual, header_attributes._FRAGMENTS[REDACTOR.headers], REDACTOR) is None


@C_ONLY
def test_headers_json_refuses_bad_arguments() -> None:
    with pytest.raises(TypeError):
        _speedups.headers_json([], {}, b"a.", b"b.", ())
    with pytest.raises(TypeError):
        _speedups.headers_json({}, {}, b"a.", b"b.")  # no secret words
    with pytest.raises(TypeError, match="known"):
        _speedups.headers_json({"a.x": ("v",)}, {"a.x": "not a pair"}, b"a.", b"b.", ())


# -- json_scan ---------------------------------------------------------------------------------

KEY_WORDS = ["password", "PassWord", "api-key", "API_KEY", "user", "note", "to\u212aen", "cvv", "x", "pass\"word",
             "tok\\en", "caf\u00e9", "items", "Authorization", "privateKey", "card-number", "PWD", "jwt", "pass.phrase",
             "Client Secret", "key", "Key", "access", "refresh", "x-amz-signature", "sig", "s.s.n", "monkey",
             "pass+word", "keys", "pinned"]  # fmt: skip
KEYS = st.sampled_from(KEY_WORDS) | st.text(max_size=10)
DOCUMENTS = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
    | st.sampled_from(["password", "token: x"]),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(KEYS, children, max_size=4),
    max_leaves=20,
)


def _scan(text: str) -> int:
    verdict: int = _speedups.json_scan(text, *REDACTOR.key_rule_utf8)
    return verdict


def _keys(value: object, top: bool = True) -> list[tuple[str, bool]]:
    """Every object key of a document, and whether it is a key of the root object."""
    if isinstance(value, dict):
        return [pair for key, item in value.items() for pair in [(key, top), *_keys(item, False)]]
    if isinstance(value, list):
        return [pair for item in value for pair in _keys(item, False)]
    return []


def _c_must_say(key: str, ascii: bool, top: bool) -> bool:
    """What the C scan answers for one key: a secret, or a key it cannot judge without decoding."""
    encoded = json.dumps(key, ensure_ascii=ascii)[1:-1]
    return REDACTOR.key_is_secret(key, top=top) or "\\" in encoded or not key.isascii() or len(key.encode()) > 256


@C_ONLY
@PROPERTY
@given(DOCUMENTS, st.sampled_from([None, 1, 2]), st.booleans())
def test_json_scan_reads_every_key_and_only_keys(document: object, indent: int | None, ascii: bool) -> None:
    text = json.dumps(document, indent=indent, ensure_ascii=ascii)
    expected = any(_c_must_say(key, ascii, top) for key, top in _keys(document))
    assert _scan(text) == (speedups.JSON_MAY_HOLD_SECRET if expected else speedups.JSON_PLAIN)
    if REDACTOR.redact_value(document) != document:
        assert expected  # sound: whatever the walk would redact, the scan sends to the walk


def _valid_for_msgspec(text: str) -> bool:
    try:
        msgspec.json.Decoder(msgspec.Raw).decode(text)
    except (msgspec.DecodeError, UnicodeEncodeError, RecursionError):
        return False
    return True


# Pieces of JSON and of almost-JSON, glued at random: every verdict must be msgspec's.
JSON_PIECES = st.sampled_from(['{', '}', '[', ']', ',', ':', '"', '"a"', '"k":', ' ', '\n', '1', '-', '0', '01', '.5',
                               '1e5', 'e', 'E+', 'true', 'tru', 'false', 'null', 'NaN', '\\', '\\u', '\\ud83d',
                               '\\ude00', '\\u00e9', '\\n', '\\x', '\x01', '\u00e9', '/'])  # fmt: skip
NEAR_JSON = st.lists(JSON_PIECES, max_size=14).map("".join) | DOCUMENTS.map(json.dumps)


@C_ONLY
@PROPERTY
@given(NEAR_JSON)
def test_json_scan_accepts_exactly_what_msgspec_accepts(text: str) -> None:
    assert (_scan(text) != speedups.JSON_INVALID) == _valid_for_msgspec(text), text


@C_ONLY
def test_json_scan_examples(tmp_path: Path) -> None:
    assert _scan('{"user": {"Pass-Word": 1, "API-Key": "k"}}') == 1  # api_key
    assert _scan('{"user": {"Pass-Word": 1}}') == 1  # normalised: password
    assert _scan('{"user": {"Pass-Port": 1, "key": 2}}') == 0  # a generic `key` below the root is data
    assert _scan('{"key": 1}') == 1 and _scan('[{"key": 1}]') == 0  # ... and secret in the root object
    assert _scan('{"a": {"privateKey": 1}}') == _scan('{"CARD.NUMBER": 1}') == _scan('{"X-Amz-Signature": 1}') == 1
    assert _scan('{"note": "my password is token", "list": ["secret", "cvv"]}') == 0  # values never count
    assert _scan('{"pass\\u0077ord": 1}') == 1  # an escape: decoding decides
    assert _scan('[{"a": 1}, {"b": {"refresh_token" : 2}}]') == 1
    assert [_scan(t) for t in ('"password"', "12", "[]", " {} ")] == [0, 0, 0, 0]
    invalid = [
        '{"a": 1,}',
        "[1, 2,]",
        '{"a": NaN}',
        "01",
        "",
        '"\\ud800"',
        '"\\udc00x"',
        '"\x01"',
        "[" * 1001 + "]" * 1001,
    ]
    assert [_scan(t) for t in invalid] == [-1] * len(invalid)
    # What the scan lets through, DuckDB's JSON column takes: a body never fails its batch.
    accepted = ['"\\ud83d\\ude00"', "1e999", "-0.0e-0", '{"a": "\\u0000"}', "[" * 999 + "]" * 999]
    assert all(_scan(t) == 0 for t in accepted)
    connection = duckdb.connect(str(tmp_path / "json.duckdb"))
    assert [row[0] for row in connection.execute("SELECT CAST(unnest(?) AS JSON)", [accepted]).fetchall()] == accepted


# -- text_holds_secret ---------------------------------------------------------------------------

QUERY_PIECES = st.sampled_from(["password", "PASS-WORD", "api-key", "Api_Key", "tok", "en", "=", "&", "%", "\\u",
                                "\\", "u", "caf\u00e9", "to\u212aen", "cvv", "-", "_", ".", " ", "+", "key", "Sig",
                                "X-Amz-", "Signature", "pass.word", "pin", "access"])  # fmt: skip
QUERIES = st.lists(QUERY_PIECES | st.text(max_size=6), max_size=10).map("".join)


@C_ONLY
@PROPERTY
@given(QUERIES)
def test_text_holds_secret_is_may_hold_secret_on_ascii_text(text: str) -> None:
    found = _speedups.text_holds_secret(text, REDACTOR.scan_keys_utf8)
    if text.isascii():
        assert found is REDACTOR.may_hold_secret(text)
    else:
        assert found is None  # Python's lower() decides: KELVIN SIGN lowercases to k
    assert speedups.text_holds_secret(text, REDACTOR) is REDACTOR.may_hold_secret(text)


@C_ONLY
def test_text_holds_secret_reads_long_texts() -> None:
    form = "&".join(f"field{n}=value{n}" for n in range(200))
    assert _speedups.text_holds_secret(form, REDACTOR.scan_keys_utf8) is False
    assert _speedups.text_holds_secret(form + "&Refresh-Token=x", REDACTOR.scan_keys_utf8) is True


# -- query_json ----------------------------------------------------------------------------------

QUERY_TEXT = st.lists(st.sampled_from(["a", "b", "tag", "=", "&", "&&", "x=1", '"', "\\", "\x01", "%41", "+", ";",
                                       "caf\u00e9", "token", "Page"]), max_size=12).map("".join)  # fmt: skip


@C_ONLY
@PROPERTY
@given(QUERY_TEXT | QUERIES)
def test_query_json_is_what_the_python_path_writes(query: str) -> None:
    plain = _speedups.query_json(query, *REDACTOR.key_rule_utf8)
    params = parse_query(query)
    python = orjson.dumps(REDACTOR.redact_value(params)).decode()
    if plain is not None:
        assert plain == python
    secret = any(REDACTOR.key_is_secret(key, top=True) for key in params)  # every query key is top-level
    simple = query.isascii() and not any(c in query for c in "%+;") and not secret
    assert (plain is not None) == simple  # the strategies stay below C's 64 pairs


@C_ONLY
def test_query_json_examples() -> None:
    def plain(query: str) -> str | None:
        result: str | None = _speedups.query_json(query, *REDACTOR.key_rule_utf8)
        return result

    assert plain("page=2&tag=a&tag=b&&flag&e=") == '{"page":"2","tag":["a","b"],"flag":"","e":""}'
    assert plain("") == "{}" and plain("&") == "{}"
    assert plain("q=a=b") == '{"q":"a=b"}'
    assert plain("token=abc") is None and plain("q=%41") is None and plain("q=caf\u00e9") is None
    assert plain("X-Amz-Signature=a") is None and plain("key=a") is None and plain("Sig=a") is None
    assert plain("q=token&monkey=1") == '{"q":"token","monkey":"1"}'  # values and words inside names: no secret
    assert plain("&".join(f"k{n}=v" for n in range(65))) is None  # more pairs than C keeps: Python


# -- decode_attributes ---------------------------------------------------------------------------

ANY_VALUES = st.one_of(
    st.builds(lambda v: AnyValue(string_value=v), st.text(max_size=20)),
    st.builds(lambda v: AnyValue(int_value=v), st.integers(min_value=-(2**63), max_value=2**63 - 1)),
    st.builds(lambda v: AnyValue(bool_value=v), st.booleans()),
    st.builds(lambda v: AnyValue(double_value=v), st.floats(allow_nan=False)),
    st.builds(lambda v: AnyValue(bytes_value=v), st.binary(max_size=8)),
    st.builds(
        lambda vs: AnyValue(array_value=ArrayValue(values=[AnyValue(string_value=v) for v in vs])),
        st.lists(st.text(max_size=8), max_size=3),
    ),  # fmt: skip
    st.just(AnyValue()),
)
KEY_NAMES = ["http.request.method", "url.path", "http.request.header.accept", "user.id", "http.response.header.x",
             "server.port", "caf\u00e9"]  # fmt: skip
ATTRIBUTE_KEYS = st.sampled_from(KEY_NAMES) | st.text(max_size=6)
ENCODED = st.lists(
    st.builds(lambda k, v: KeyValue(key=k, value=v).SerializeToString(), ATTRIBUTE_KEYS, ANY_VALUES)
    | st.binary(max_size=12),  # and bytes that may not be a KeyValue at all
    max_size=8,
)
_SPAN_DECODER = AttributeDecoder(otlp._WANTED, otlp._HEADER_PREFIXES)


def _decode_in_python(encoded: list[bytes]) -> dict[str, object]:
    """The reference: `AttributeDecoder` with the C decoder out of the way."""
    speedups._speedups = None
    try:
        return _SPAN_DECODER.decode(encoded)
    finally:
        speedups._speedups = _speedups


@C_ONLY
@PROPERTY
@given(ENCODED)
def test_decode_attributes_is_the_python_decoder(encoded: list[bytes]) -> None:
    try:
        expected: dict[str, object] | None = _decode_in_python(encoded)
    except ValueError:
        expected = None  # malformed: the C decoder must leave it to Python, which raises
    decoded = _speedups.decode_attributes(encoded, otlp._WANTED, tuple(p.encode() for p in otlp._HEADER_PREFIXES))
    if decoded is not None:
        assert decoded == expected
        assert [type(v) for v in decoded.values()] == [type(v) for v in expected.values()]  # type: ignore[union-attr]


@C_ONLY
def test_decode_attributes_takes_the_common_kinds() -> None:
    accept = AnyValue(array_value=ArrayValue(values=[AnyValue(string_value="*/*")]))
    values = {"http.request.method": AnyValue(string_value="GET"), "user.id": AnyValue(int_value=42),
              "http.request.header.accept": accept, "reqlog.request.body.truncated": AnyValue(bool_value=True),
              "server.port": AnyValue(int_value=443)}  # fmt: skip
    encoded = [KeyValue(key=key, value=value).SerializeToString() for key, value in values.items()]
    prefixes = tuple(p.encode() for p in otlp._HEADER_PREFIXES)
    assert _speedups.decode_attributes(encoded, otlp._WANTED, prefixes) == {
        "http.request.method": "GET", "user.id": 42, "http.request.header.accept": ("*/*",),
        "reqlog.request.body.truncated": True}  # fmt: skip
    negative = KeyValue(key="user.id", value=AnyValue(int_value=-1)).SerializeToString()
    assert _speedups.decode_attributes([negative], otlp._WANTED, prefixes) is None  # Python decodes those


# -- the Python fallback -------------------------------------------------------------------------


@PROPERTY
@given(ATTRIBUTES)
def test_header_json_without_the_c_speedups_is_the_same(attributes: dict[str, object]) -> None:
    compiled = headers_json_columns(attributes, REDACTOR)
    try:
        speedups._speedups = None
        assert headers_json_columns(attributes, REDACTOR) == compiled
    finally:
        speedups._speedups = _speedups


def test_flattening_without_the_c_speedups_gives_the_same_rows(
    tracer_provider: TracerProvider, span_exporter: InMemorySpanExporter, monkeypatch: pytest.MonkeyPatch
) -> None:
    attributes = {
        "http.request.method": "POST",
        "url.path": "/login",
        "url.query": "next=/home&token=abc",
        "http.request.header.authorization": ("Token t",),
        "http.request.header.accept": ("application/json",),
        "http.request.header.x_note": ('say "hi"\n',),
        "http.response.header.set_cookie": ("a=1", "b=2"),
        "http.response.header.content_type": ("application/json",),
        "http.request.body.content": '{"user": "ada", "Password": "hunter2", "nested": [{"cvv": 1}]}',
        "reqlog.request.body.content_type": "application/json",
        "http.response.body.content": '{"note": "password reset sent"}',
        "reqlog.response.body.content_type": "application/json",
    }
    span = make_span(tracer_provider, span_exporter, attributes)
    compiled = _parsed(span_values(span))
    monkeypatch.setattr(speedups, "_speedups", None)
    assert _parsed(span_values(span)) == compiled
    assert "hunter2" not in str(compiled)
    assert compiled[21] == {"user": "ada", "Password": REDACTED, "nested": [{"cvv": REDACTED}]}
    assert compiled[23]["X-Note"] == 'say "hi"\n'


def _parsed(values: tuple[object, ...] | None) -> list[object]:
    """The row with its JSON columns parsed: the Python scan may re-serialise a body the C scan keeps."""
    assert values is not None
    return [json.loads(value) if name in JSON_COLUMNS and isinstance(value, str) else value
            for name, value in zip(COLUMN_NAMES, values, strict=True)]  # fmt: skip


# -- read_attributes -------------------------------------------------------------------------------

FIELD_KEYS = ("a", "b", "c")
FIELD_VALUES = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=6)
    | st.binary(max_size=6)
    | st.lists(st.text(max_size=3) | st.integers(), max_size=3).map(tuple)
)


@C_ONLY
@PROPERTY
@given(st.dictionaries(st.sampled_from(FIELD_KEYS), FIELD_VALUES), st.tuples(st.booleans(), st.booleans()))
def test_read_attributes_in_c_is_its_python_twin(attributes: dict[str, object], as_text: tuple[bool, bool]) -> None:
    fields = (("a", "b"), ("c",))
    expected = list(speedups.python_read_attributes(attributes, fields, as_text))
    found = list(_speedups.read_attributes(attributes, fields, as_text, speedups.text))
    assert found == expected
    assert [type(v) for v in found] == [type(v) for v in expected]
