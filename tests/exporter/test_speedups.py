"""The C speedups agree with their Python reference, and flattening gives the same rows either way."""

from __future__ import annotations

import json

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from exporter import REDACTED, Redactor, speedups
from exporter.flatten import span_values
from exporter.row import COLUMN_NAMES, JSON_COLUMNS

from .spans import make_span

PROPERTY = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
REDACTOR = Redactor()
_speedups = speedups._speedups


def test_the_c_speedups_were_compiled() -> None:
    # The extension is optional at install time, so a compile error would only show as slowness.
    assert speedups.COMPILED, "exporter/_speedups.c did not compile: reinstall with a C compiler (make clean test)"


# -- headers_json ------------------------------------------------------------------------------

HEADER_TEXT = st.text(alphabet=st.characters(codec="utf-8"), max_size=30) | st.sampled_from(
    ['a"b', "back\\slash", "tab\there", "nl\n", "\x00\x1f\x7f", "caf\u00e9", "\u2028", "/path"]
)


@PROPERTY
@given(
    st.lists(
        st.tuples(st.text(min_size=1, max_size=12), HEADER_TEXT, st.booleans()), max_size=12, unique_by=lambda h: h[0]
    )
)
def test_headers_json_is_what_orjson_writes_for_the_dict(headers: list[tuple[str, str, bool]]) -> None:
    values = tuple((value,) for _, value, _ in headers)
    fragments = tuple(orjson.dumps(name) + (b':"[REDACTED]"' if secret else b":") for name, _, secret in headers)
    redacted = tuple(secret for _, _, secret in headers)
    expected = orjson.dumps({name: REDACTED if secret else value for name, value, secret in headers}).decode()
    assert _speedups.headers_json(values, fragments, redacted) == expected


@pytest.mark.parametrize("value", [("a", "b"), (), ["x"], ("ok",), (1,), "bare", None, ("\ud800",)])
def test_headers_json_takes_only_single_strings(value: object) -> None:
    result = _speedups.headers_json((value,), (b'"X":',), (False,))
    if value in (("ok",), ["x"]):
        assert result == orjson.dumps({"X": value[0]}).decode()  # type: ignore[index]
    else:
        assert result is None  # the general path decides (joins, converts, or refuses)
    assert _speedups.headers_json((value,), (b'"X":"[REDACTED]"',), (True,)) == '{"X":"[REDACTED]"}'


def test_headers_json_refuses_bad_arguments() -> None:
    with pytest.raises(TypeError):
        _speedups.headers_json([("a",)], (b'"X":',), (False,))
    with pytest.raises(ValueError, match="same length"):
        _speedups.headers_json((("a",),), (), ())


# -- json_keys_hold_secret -----------------------------------------------------------------------

KEY_WORDS = ["password", "PassWord", "api-key", "API_KEY", "user", "note", "to\u212aen", "cvv", "x", "pass\"word",
             "tok\\en", "caf\u00e9", "items", "Authorization"]  # fmt: skip
KEYS = st.sampled_from(KEY_WORDS) | st.text(max_size=10)
DOCUMENTS = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20) | st.sampled_from(["password", "token: x"]),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(KEYS, children, max_size=4),
    max_leaves=20,
)


def _keys(value: object) -> list[str]:
    if isinstance(value, dict):
        return [key for key, item in value.items() for key in [key, *_keys(item)]]
    if isinstance(value, list):
        return [key for item in value for key in _keys(item)]
    return []


def _c_must_say(key: str) -> bool:
    """What the C scan answers for one key: a secret, or a key it cannot judge without decoding."""
    encoded = json.dumps(key)[1:-1]
    return REDACTOR.key_is_secret(key) or "\\" in encoded or not key.isascii() or len(key.encode()) > 256


@PROPERTY
@given(DOCUMENTS, st.sampled_from([None, 1, 2]), st.booleans())
def test_json_keys_hold_secret_reads_every_key_and_only_keys(
    document: object, indent: int | None, ascii_only: bool
) -> None:
    text = json.dumps(document, indent=indent, ensure_ascii=ascii)
    expected = any(_c_must_say(key) or (ascii and not key.isascii()) for key in _keys(document))
    assert bool(_speedups.json_keys_hold_secret(text, REDACTOR.scan_keys_utf8)) is expected
    if REDACTOR.redact_value(document) != document:
        assert expected  # sound: whatever the walk would redact, the scan sends to the walk


def test_json_keys_hold_secret_examples() -> None:
    def scan(text: str) -> bool:
        return bool(_speedups.json_keys_hold_secret(text, REDACTOR.scan_keys_utf8))

    assert scan('{"user": {"Pass-Word": 1, "API-Key": "k"}}')  # api_key
    assert not scan('{"user": {"Pass-Word": 1}}')  # pass_word holds no secret word
    assert not scan('{"note": "my password is token", "list": ["secret", "cvv"]}')  # values never count
    assert scan('{"pass\\u0077ord": 1}')  # an escape: decoding decides
    assert scan('[{"a": 1}, {"b": {"refresh_token" : 2}}]')
    assert not scan('"password"') and not scan("12") and not scan("[]")


# -- text_holds_secret ---------------------------------------------------------------------------

QUERY_PIECES = st.sampled_from(["password", "PASS-WORD", "api-key", "Api_Key", "tok", "en", "=", "&", "%", "\\u",
                                "\\", "u", "caf\u00e9", "to\u212aen", "cvv", "-", "_"])  # fmt: skip
QUERIES = st.lists(QUERY_PIECES | st.text(max_size=6), max_size=10).map("".join)


@PROPERTY
@given(QUERIES)
def test_text_holds_secret_is_may_hold_secret_on_ascii_text(text: str) -> None:
    found = _speedups.text_holds_secret(text, REDACTOR.scan_keys_utf8)
    if text.isascii():
        assert found is REDACTOR.may_hold_secret(text)
    else:
        assert found is None  # Python's lower() decides: KELVIN SIGN lowercases to k
    assert speedups.text_holds_secret(text, REDACTOR) is REDACTOR.may_hold_secret(text)


def test_text_holds_secret_reads_long_texts() -> None:
    form = "&".join(f"field{n}=value{n}" for n in range(200))
    assert _speedups.text_holds_secret(form, REDACTOR.scan_keys_utf8) is False
    assert _speedups.text_holds_secret(form + "&Refresh-Token=x", REDACTOR.scan_keys_utf8) is True


# -- the Python fallback -------------------------------------------------------------------------


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
