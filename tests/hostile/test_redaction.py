"""Attacks on redaction: each test tries one way to get a secret stored in the clear.

Every attempt goes through the real flattening paths: an SDK span made by the real tracer, turned
into a row by `span_values` (the in-process exporter's path) and, encoded as the stock OTLP
exporter encodes it, by `decode_protobuf` and `decode_json` (the service's paths). The rows must be the same and
hold no secret; the harmless value beside the secret must survive, so a test fails when redaction
blanks everything as well as when it misses something. One test stores every attack through the
`DuckDBSpanExporter` into a real file and reads the file back.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from exporter import REDACTED, DuckDBSpanExporter, ExporterSettings, Redactor, RequestLogStore, speedups
from exporter.flatten import span_values
from exporter.otlp import decode_protobuf
from exporter.otlp_json import decode_json
from exporter.row import COLUMN_NAMES, JSON_COLUMNS
from tests.otlp_payloads import otlp_request, to_otlp_json

PROPERTY = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
SECRET = "Zq9ZsecretZ7Z"  # no harmless value below holds a "Z"
HARMLESS = "ada-lovelace"
BASE = {"http.request.method": "POST", "url.scheme": "https", "url.path": "/login", "http.response.status_code": 200}

_provider = TracerProvider()
_memory = InMemorySpanExporter()
_provider.add_span_processor(SimpleSpanProcessor(_memory))


def rows_for(attributes: Mapping[str, Any], redactor: Redactor | None = None) -> dict[str, Any]:
    """The row both paths make for one span with `attributes`, as {column: value}."""
    redactor = redactor or Redactor()
    _memory.clear()
    merged = {k: v for k, v in {**BASE, **attributes}.items() if v is not None}  # None drops a BASE attribute
    span = _provider.get_tracer("hostile").start_span("POST /login", kind=SpanKind.SERVER, attributes=merged)
    span.end()
    (finished,) = _memory.get_finished_spans()
    in_process = span_values(finished, redactor)
    request = otlp_request([finished])
    for decoded in (
        decode_protobuf(request.SerializeToString(), redactor=redactor),
        decode_json(to_otlp_json(request), redactor=redactor),
    ):
        assert in_process is not None and len(decoded.rows) == 1, decoded.errors
        assert decoded.rows[0] == in_process  # one row whichever way the span came
    compiled = speedups._speedups
    try:
        speedups._speedups = None  # the Python reference hides the same (it may re-serialise JSON)
        assert _parsed(span_values(finished, redactor)) == _parsed(in_process)
    finally:
        speedups._speedups = compiled
    assert in_process is not None
    return dict(zip(COLUMN_NAMES, in_process, strict=True))


def _parsed(values: tuple[Any, ...] | None) -> list[Any]:
    assert values is not None
    return [orjson.loads(v) if name in JSON_COLUMNS and isinstance(v, str) else v
            for name, v in zip(COLUMN_NAMES, values, strict=True)]  # fmt: skip


def stored_text(row: Mapping[str, Any]) -> str:
    return " ".join(str(value) for value in row.values())


def assert_no_secret(row: Mapping[str, Any], *, secret: str = SECRET) -> None:
    text = stored_text(row)
    assert secret not in text, text
    assert HARMLESS in text, text  # the rest of the request is still there


def styles(words: list[str]) -> st.SearchStrategy[str]:
    """One name written camelCase, snake_case, kebab-case, dotted, spaced, PascalCase or UPPER."""
    joins: list[Callable[[list[str]], str]] = [
        lambda w: w[0] + "".join(p.capitalize() for p in w[1:]),
        "_".join,
        "-".join,
        ".".join,
        " ".join,
        lambda w: "".join(p.capitalize() for p in w),
        lambda w: "_".join(w).upper(),
        "".join,
    ]
    return st.sampled_from(joins).map(lambda join: join(words))


def body(content: str, content_type: str, *, response: bool = False, truncated: bool = False) -> dict[str, Any]:
    side = "response" if response else "request"
    out: dict[str, Any] = {
        f"http.{side}.body.content": content,
        f"reqlog.{side}.body.content_type": content_type,
    }
    if truncated:
        out[f"reqlog.{side}.body.truncated"] = True
    return out


# -- JSON under another content type ---------------------------------------------------------------

TEXT_TYPES = st.sampled_from(["text/plain", "text/plain; charset=utf-8", "text/json", "TEXT/JSON", "text/x-json",
                              "application/x-json", "application/octet-stream", "text/html"])  # fmt: skip


@PROPERTY
@given(TEXT_TYPES, st.sampled_from(["password", "token", "api_key", "client_secret"]),
       st.sampled_from(["", "  ", "\n"]), st.booleans())  # fmt: skip
def test_json_body_sent_as_text_plain_or_text_json(content_type: str, key: str, lead: str, response: bool) -> None:
    content = lead + json.dumps({"user": HARMLESS, key: SECRET})
    assert_no_secret(rows_for(body(content, content_type, response=response)))


@pytest.mark.parametrize("truncated", [False, True])
def test_json_body_sent_as_a_form(truncated: bool) -> None:
    content = json.dumps({"user": HARMLESS, "password": SECRET, "n": 1})
    row = rows_for(body(content, "application/x-www-form-urlencoded; charset=UTF-8", truncated=truncated))
    assert_no_secret(row)


# -- truncated JSON whose secret holds a list or an object -------------------------------------------

SECRET_VALUES = st.recursive(
    st.sampled_from([SECRET, "Z", "ZZ Z"]) | st.integers(min_value=0).map(lambda n: f"Z{n}Z"),
    lambda children: st.lists(children, min_size=1, max_size=3) | st.dictionaries(
        st.sampled_from(["a", "b", "n"]), children, min_size=1, max_size=3),
    max_leaves=6,
)  # fmt: skip


@PROPERTY
@given(SECRET_VALUES, st.sampled_from(["password", "token", "credentials", "privateKey"]), st.data())
def test_truncated_json_whose_secret_key_holds_a_list_or_an_object(
    value: object, key: str, data: st.DataObject
) -> None:
    document = json.dumps({"user": HARMLESS, key: value, "after": "x"}, indent=data.draw(st.sampled_from([None, 1])))
    start = document.index(f'"{key}"') + len(key) + 2
    cut = data.draw(st.integers(min_value=start, max_value=len(document) - 1), label="cut")
    row = rows_for(body(document[:cut], "application/json", truncated=True))
    stored = orjson.loads(row["body"])
    assert isinstance(stored, str) and "Z" not in stored, stored  # no part of the secret, whole or cut
    assert HARMLESS in stored


SECRET_NAMES = st.sampled_from(
    [["pass", "word"], ["api", "key"], ["client", "secret"], ["card", "number"], ["jwt"]]
).flatmap(styles)
PLAIN_NAMES = st.sampled_from(["user", "items", "n", "note", "pass port", "monkey"])


@st.composite
def documents_with_secrets(draw: st.DrawFn, depth: int = 0, hidden: bool = False) -> object:
    """A document whose every leaf below a secret key is a `Z...` string, and no other leaf holds a Z."""
    kind = draw(st.sampled_from(["leaf", "leaf", "list", "object"] if depth < 3 else ["leaf"]))
    if kind == "leaf":
        return draw(st.sampled_from(["Z", "ZZ", "Z1Z"]) if hidden else st.sampled_from(["a", "b c", 'q"x', "1"]))
    if kind == "list":
        return [draw(documents_with_secrets(depth + 1, hidden)) for _ in range(draw(st.integers(0, 3)))]
    out: dict[str, object] = {}
    for _ in range(draw(st.integers(0, 3))):
        secret = draw(st.booleans())
        name = draw(SECRET_NAMES if secret else PLAIN_NAMES)
        if name.lower().replace(" ", "") in (k.lower().replace(" ", "") for k in out):
            continue
        out[name] = draw(documents_with_secrets(depth + 1, hidden or secret))
    return out


@PROPERTY
@given(documents_with_secrets(), st.data())
def test_json_cut_at_any_point_keeps_no_piece_of_a_secret(document: object, data: st.DataObject) -> None:
    text = json.dumps({"user": HARMLESS, "data": document}, indent=data.draw(st.sampled_from([None, 2])))
    cut = data.draw(st.integers(min_value=text.index(HARMLESS) + len(HARMLESS) + 1, max_value=len(text)), label="cut")
    attempts = [body(text[:cut], "application/json", truncated=True)]
    if cut == len(text):
        attempts.append(body(text, "text/plain"))  # whole, under a text type
    for attributes in attempts:
        stored = orjson.loads(rows_for(attributes)["body"])
        assert "Z" not in stored and HARMLESS in stored, stored


def test_truncated_json_with_a_list_secret_examples() -> None:
    for content in ('{"user": "ada-lovelace", "password": ["Zq9ZsecretZ7Z", "b"], "n": 1',
                    '{"user": "ada-lovelace", "token": {"v": "Zq9ZsecretZ7Z"}, "n": 1',
                    '{"user": "ada-lovelace", "token": [{"v": ["Zq9ZsecretZ7Z"'):  # fmt: skip
        row = rows_for(body(content, "application/json", truncated=True))
        assert_no_secret(row)
        assert REDACTED in row["body"]


# -- header names that only contain a credential word --------------------------------------------------

HEADER_ATTACKS = ["X-CSRF-Token", "X-XSRF-TOKEN", "Api-Key", "X-Amz-Security-Token", "Private-Token",
                  "X-Goog-Api-Key", "X-Hub-Signature-256", "X-Session-Id", "X-Auth-Key",
                  "Ocp-Apim-Subscription-Key"]  # fmt: skip


def header_key(name: str, *, response: bool, dashes: bool) -> str:
    side = "response" if response else "request"
    # The Python instrumentation writes `x_csrf_token`; semantic conventions (and other SDKs) keep `-`.
    return f"http.{side}.header.{name.lower() if dashes else name.lower().replace('-', '_')}"


@pytest.mark.parametrize("name", HEADER_ATTACKS)
def test_header_name_that_only_contains_a_credential_word(name: str) -> None:
    for response, dashes in itertools.product([False, True], repeat=2):
        row = rows_for({header_key(name, response=response, dashes=dashes): (SECRET,), "user.name": HARMLESS})
        assert_no_secret(row)


@PROPERTY
@given(st.sampled_from([["csrf", "token"], ["xsrf", "token"], ["api", "key"], ["security", "token"],
                        ["private", "token"], ["auth", "token"], ["access", "token"], ["client", "secret"]]),
       st.sampled_from(["", "x-", "x-amz-", "x-my-app-"]), st.booleans(), st.booleans())  # fmt: skip
def test_header_credential_word_in_any_spelling(words: list[str], prefix: str, response: bool, dashes: bool) -> None:
    name = prefix + "-".join(words)
    row = rows_for({header_key(name, response=response, dashes=dashes): (SECRET,), "user.name": HARMLESS})
    assert_no_secret(row)


# -- secret keys in any case style, anywhere ----------------------------------------------------------------

KEY_WORDS = [["private", "key"], ["card", "number"], ["pwd"], ["jwt"], ["passphrase"], ["client", "secret"],
             ["api", "key"], ["access", "token"], ["new", "password"], ["x", "amz", "signature"]]  # fmt: skip


def nest(value: object, depth: int) -> object:
    for level in range(depth):
        value = {f"level{level}": value} if level % 2 == 0 else [value]
    return value


@PROPERTY
@given(st.sampled_from(KEY_WORDS).flatmap(styles), st.integers(min_value=0, max_value=5),
       st.sampled_from(["json", "response", "form", "query", "truncated"]))  # fmt: skip
def test_secret_key_in_any_case_style_at_any_depth(key: str, depth: int, where: str) -> None:
    if where in ("form", "query"):
        pairs = f"user={HARMLESS}&{key.replace(' ', '+')}={SECRET}"
        attributes = body(pairs, "application/x-www-form-urlencoded") if where == "form" else {"url.query": pairs}
    else:
        content = json.dumps({"user": HARMLESS, "data": nest({key: SECRET}, depth)})
        attributes = body(content, "application/json", response=where == "response", truncated=where == "truncated")
    assert_no_secret(rows_for(attributes))


# -- query keys that name a signature or a key -------------------------------------------------------------

QUERY_KEYS = ["key", "sig", "signature", "X-Amz-Signature", "X-Amz-Credential", "X-Amz-Security-Token", "KEY",
              "Signature", "X-Goog-Signature", "X-Goog-Credential", "access_token", "api-key"]  # fmt: skip


@pytest.mark.parametrize("key", QUERY_KEYS)
def test_query_key_naming_a_signature_or_a_key(key: str) -> None:
    query = f"user={HARMLESS}&{key}={SECRET}&X-Amz-Expires=300"
    for attributes in (
        {"url.query": query},
        {"url.query": query + "&x=%41"},  # an escape: the Python parser
        {"url.path": None, "http.target": f"/login?{query}"},  # the older convention
        {"url.path": None, "http.url": f"https://shop.example/login?{query}"},
    ):
        row = rows_for(attributes)
        assert_no_secret(row)
        assert orjson.loads(row["query_params"])["X-Amz-Expires"] == "300"


# -- a token inside a URL-valued header ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "key, value",
    [
        ("http.response.header.location", f"https://app.example/welcome?user={HARMLESS}&token={SECRET}"),
        ("http.response.header.location", f"/callback#access_token={SECRET}&state={HARMLESS}"),
        ("http.response.header.location", f"https://b.example/o?X-Amz-Signature={SECRET}&u={HARMLESS}"),
        ("http.response.header.content_location", f"/reset?user={HARMLESS}&key={SECRET}"),
        ("http.request.header.referer", f"https://shop.example/reset?user={HARMLESS}&reset_token={SECRET}"),
        ("http.response.header.location", f"/next?user={HARMLESS}&pass%77ord={SECRET}"),
    ],
)
def test_token_inside_a_location_header_query(key: str, value: str) -> None:
    for spelling in (key, key.replace("_", "-")):
        row = rows_for({spelling: (value,)})
        assert_no_secret(row)
        assert REDACTED in stored_text(row)


@PROPERTY
@given(st.sampled_from([["token"], ["access", "token"], ["x", "amz", "signature"], ["key"], ["sig"], ["api", "key"],
                        ["reset", "token"], ["j", "session", "id"]]).flatmap(styles),
       st.sampled_from(["?", "#", ";"]), st.sampled_from(["location", "content_location", "referer", "refresh"]),
       st.booleans())  # fmt: skip
def test_secret_parameter_of_a_url_header_in_any_spelling(key: str, mark: str, header: str, response: bool) -> None:
    url = f"https://app.example/next{mark}{key.replace(' ', '+')}={SECRET}&user={HARMLESS}"
    value = f"0; url={url}" if header == "refresh" else url
    side = "response" if response else "request"
    assert_no_secret(rows_for({f"http.{side}.header.{header}": (value,)}))


# -- login answers whose secret sits under a generic key ----------------------------------------------------


@pytest.mark.parametrize(
    "answer",
    [
        {"key": SECRET},  # dj-rest-auth's login (and its email verification request)
        {"key": SECRET, "user": HARMLESS},
        {"access": SECRET, "refresh": SECRET, "user": {"username": HARMLESS}},  # simplejwt / dj-rest-auth JWT
        {"token": SECRET, "expiry": HARMLESS},  # knox, DRF authtoken
        {"Key": SECRET, "user": HARMLESS},
    ],
)
def test_login_answer_with_its_secret_under_a_generic_key(answer: dict[str, object]) -> None:
    for truncated in (False, True):
        content = json.dumps(answer)
        row = rows_for(body(content, "application/json", response=True, truncated=truncated) | {"user.name": HARMLESS})
        assert_no_secret(row)


def test_generic_keys_below_the_top_level_are_data() -> None:
    # The rule's other side: a nested `key` (key/value lists, sort keys) is shown.
    content = json.dumps({"items": [{"key": "colour", "value": HARMLESS}], "access": None})
    row = rows_for(body(content, "application/json", response=True))
    assert orjson.loads(row["response"]) == {"items": [{"key": "colour", "value": HARMLESS}], "access": REDACTED}


# -- the defaults stay configurable ----------------------------------------------------------------------------


def test_settings_exempt_a_name_and_add_whole_and_top_level_names() -> None:
    settings = ExporterSettings(unredact_keys=("max_tokens",), redact_keys=("=code", "^state"))
    content = json.dumps({"maxTokens": 5, "access_token": SECRET, "code": SECRET, "state": SECRET,
                          "nested": {"state": HARMLESS}})  # fmt: skip
    row = rows_for(body(content, "application/json"), settings.redactor())
    assert orjson.loads(row["body"]) == {"maxTokens": 5, "access_token": REDACTED, "code": REDACTED,
                                         "state": REDACTED, "nested": {"state": HARMLESS}}  # fmt: skip


# -- the whole list, stored ------------------------------------------------------------------------------------


def test_every_attack_stored_through_the_exporter_leaves_no_secret_in_the_file(tmp_path: Path) -> None:
    attacks: list[dict[str, Any]] = [
        body(json.dumps({"password": SECRET, "user": HARMLESS}), "text/plain"),
        body(json.dumps({"password": SECRET, "user": HARMLESS}), "text/json", response=True),
        body('{"user": "ada-lovelace", "password": ["' + SECRET + '", "x"', "application/json", truncated=True),
        *(
            {header_key(name, response=False, dashes=False): (SECRET,), "user.name": HARMLESS}
            for name in HEADER_ATTACKS
        ),
        body(
            json.dumps(
                {
                    "user": HARMLESS,
                    "privateKey": SECRET,
                    "card-number": SECRET,
                    "PWD": SECRET,
                    "jwt": SECRET,
                    "passPhrase": SECRET,
                    "client_secret": SECRET,
                }
            ),
            "application/json",
        ),  # fmt: skip
        *({"url.query": f"user={HARMLESS}&{key}={SECRET}"} for key in QUERY_KEYS),
        {"http.response.header.location": (f"/w?user={HARMLESS}&token={SECRET}",)},
        body(json.dumps({"key": SECRET}), "application/json", response=True) | {"user.name": HARMLESS},
    ]
    exporter = DuckDBSpanExporter(tmp_path / "logs.duckdb")
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    for attributes in attacks:
        provider.get_tracer("hostile").start_span(
            "POST /", kind=SpanKind.SERVER, attributes={**BASE, **attributes}
        ).end()
    provider.shutdown()
    store = RequestLogStore(tmp_path / "logs.duckdb")
    try:
        rows = store.cursor().execute("SELECT * FROM request_logs ORDER BY id").fetchall()
    finally:
        store.close()
    assert len(rows) == len(attacks)
    for row in rows:
        text = " ".join(map(str, row))
        assert SECRET not in text and HARMLESS in text, text
        assert re.search(r"\[REDACTED\]", text), text
