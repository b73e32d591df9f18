"""Redaction of credential headers and password-like keys, with settings to add or keep."""

from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from exporter import REDACTED, ConfigError, ExporterSettings, Redactor
from exporter.bodies import decode_body
from exporter.query_strings import parse_query
from exporter.scrub import scrub_json_text
from exporter.speedups import text_holds_secret


def test_default_headers() -> None:
    redactor = Redactor()
    for name in ("Authorization", "proxy-authorization", "Cookie", "Set-Cookie", "X-Api-Key", "x_auth_token",
                 "X-CSRFToken"):  # fmt: skip
        assert redactor.header_is_secret(name), name
    assert not redactor.header_is_secret("Accept")


def test_keys_at_any_depth_case_insensitive() -> None:
    value = {
        "Password": "a",
        "profile": {"API-KEY": "b", "cards": [{"card_number": "4111", "name": "Ada"}]},
        "refresh_token": "c",
        "ssn": "d",
        "keep": [1, {"x": 2}],
    }
    assert Redactor().redact_value(value) == {
        "Password": REDACTED,
        "profile": {"API-KEY": REDACTED, "cards": [{"card_number": REDACTED, "name": "Ada"}]},
        "refresh_token": REDACTED,
        "ssn": REDACTED,
        "keep": [1, {"x": 2}],
    }


def test_settings_add_and_turn_off_defaults() -> None:
    settings = ExporterSettings.from_env(
        {"REQLOG_REDACT_HEADERS": "X-Session", "REQLOG_UNREDACT_HEADERS": "cookie", "REQLOG_REDACT_KEYS": "pin"},
        unredact_keys=("ssn",),
    )
    redactor = settings.redactor()
    assert redactor.header_is_secret("x-session")
    assert not redactor.header_is_secret("Cookie")
    assert redactor.header_is_secret("Authorization")
    assert redactor.redact_value({"pin": 1, "ssn": 2, "password": 3}) == {
        "pin": REDACTED,
        "ssn": 2,
        "password": REDACTED,
    }


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ConfigError, match="memory_limit"):
        ExporterSettings(memory_limit="lots")
    with pytest.raises(ConfigError, match="colour"):
        ExporterSettings.from_env({}, colour="red")


def test_empty_names_are_ignored() -> None:
    # As a substring of every key, an empty key would redact every value (and the C scan refuses it).
    redactor = Redactor.build(add_keys=["", "pin"], add_headers=[""])
    assert "" not in redactor.keys and "" not in redactor.headers
    assert redactor.redact_value({"user": "ada", "pin": 1}) == {"user": "ada", "pin": REDACTED}
    assert decode_body('{"user": "ada"}', "application/json", truncated=False, redactor=redactor) == '{"user": "ada"}'


# -- the normalised rule ------------------------------------------------------------------------------


def test_names_match_in_any_case_style() -> None:
    redactor = Redactor()
    for key in (
        "privateKey",
        "private_key",
        "Private-Key",
        "private.key",
        "PRIVATE KEY",
        "cardNumber",
        "PWD",
        "jwt_token",
        "passPhrase",
        "client_secret",
        "X-Amz-Signature",
        "x_amz_credential",
        "Ssn",
        "PIN",
    ):
        assert redactor.key_is_secret(key), key
    for key in ("user", "className", "author", "passport", "shipping", "monkey", "keys", "pinned"):
        assert not redactor.key_is_secret(key) and not redactor.key_is_secret(key, top=True), key
    for header in ("X-CSRF-Token", "X-XSRF-TOKEN", "Api-Key", "x_amz_security_token", "Private-Token", "Set-Cookie"):
        assert redactor.header_is_secret(header), header
    for header in ("Accept", "WWW-Authenticate", "Sec-WebSocket-Key", "Idempotency-Key", "X-Request-Id", "Location"):
        assert not redactor.header_is_secret(header), header


def test_generic_names_are_secret_only_at_the_top_level() -> None:
    redactor = Redactor()
    assert redactor.key_is_secret("key", top=True) and not redactor.key_is_secret("key")
    answer = {"key": "k", "access": "a", "user": {"key": "nested", "refresh": "r"}, "list": [{"key": "x"}]}
    assert redactor.redact_value(answer) == {
        "key": REDACTED,
        "access": REDACTED,
        "user": {"key": "nested", "refresh": "r"},
        "list": [{"key": "x"}],
    }
    assert redactor.redact_value([{"key": "x"}]) == [{"key": "x"}]  # a root list: its objects are rows of data


def test_build_turns_defaults_off_or_makes_exceptions() -> None:
    redactor = Redactor.build(keep_keys=["ssn", "max-tokens", "^key"], add_keys=["=code", "^state", "Pass-Code"])
    assert "=ssn" not in redactor.keys and "^key" not in redactor.keys and "!maxtokens" in redactor.keys
    assert not redactor.key_is_secret("SSN") and not redactor.key_is_secret("key", top=True)
    assert not redactor.key_is_secret("max_tokens") and redactor.key_is_secret("access_token")
    assert redactor.key_is_secret("code") and redactor.key_is_secret("state", top=True)
    assert not redactor.key_is_secret("state") and redactor.key_is_secret("my_passcode")
    headers = Redactor.build(keep_headers=["X-CSRF-Token"])
    assert not headers.header_is_secret("x_csrf_token") and headers.header_is_secret("X-XSRF-Token")


WORDS = st.sampled_from(["pass", "word", "private", "key", "card", "number", "api", "token", "user", "note", "sig",
                         "access", "x", "amz", "signature", "jwt", "pwd", "ssn", "pin"])  # fmt: skip
SEPARATORS = st.sampled_from(["", "-", "_", ".", " ", "+"])
NAMES = st.tuples(st.lists(WORDS, min_size=1, max_size=3), SEPARATORS, st.booleans()).map(
    lambda t: t[1].join(w.capitalize() if t[2] else w for w in t[0])
)
DOCUMENTS = st.recursive(
    st.none() | st.integers() | st.text(max_size=8) | st.sampled_from(["token", "a,b}", '"x"']),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(NAMES, children, max_size=3),
    max_leaves=12,
)
PROPERTY = settings(max_examples=300, deadline=None)


@PROPERTY
@given(DOCUMENTS, st.sampled_from([None, 1]))
def test_scrubbing_json_text_hides_what_the_walk_hides(document: object, indent: int | None) -> None:
    text = json.dumps(document, indent=indent)
    redactor = Redactor()
    assert json.loads(scrub_json_text(text, redactor)) == redactor.redact_value(document)


@PROPERTY
@given(DOCUMENTS, st.lists(st.tuples(NAMES, st.text(max_size=4)), max_size=4))
def test_the_raw_text_prescan_never_misses_a_secret(document: object, pairs: list[tuple[str, str]]) -> None:
    redactor = Redactor()
    for text in (json.dumps(document), json.dumps(document, ensure_ascii=False)):
        if redactor.redact_value(document) != document:
            assert redactor.may_hold_secret(text) and text_holds_secret(text, redactor), text
    form = urlencode(pairs)
    if any(redactor.key_is_secret(key, top=True) for key in parse_query(form)):
        assert redactor.may_hold_secret(form) and text_holds_secret(form, redactor), form


def test_remembered_verdicts_are_bounded_in_count_and_size() -> None:
    redactor = Redactor()
    long_names = [f"{n:04d}" + "x" * 100_000 for n in range(20)]
    assert not any(redactor.key_is_secret(name) for name in long_names)
    for n in range(5000):
        redactor.key_is_secret(f"field{n}")
    cache = redactor._keys.cache
    assert len(cache) <= 4096 and max(map(len, cache)) <= 128
    assert redactor.key_is_secret("x" * 100_000 + "Token")  # not remembered, still judged


def test_other_text_is_scrubbed_only_where_it_is_json_or_a_form() -> None:
    redactor = Redactor()

    def stored(text: str, content_type: str = "text/plain") -> object:
        value = decode_body(text, content_type, truncated=False, redactor=redactor)
        assert value is not None
        return json.loads(value)

    assert stored("user=ada&password=hunter2") == f"user=ada&password={REDACTED}"
    assert stored(' {"token": [1, 2], "n": 1}') == f' {{"token": {json.dumps(REDACTED)}, "n": 1}}'
    page = '<p>Your token expired.</p><a href="/login?next=/">Sign in</a><input name="key" value="x">'
    assert stored(page, "text/html") == page  # prose and HTML are not forms: nothing is cut out
    assert stored("password reset sent") == "password reset sent"


def test_entry_syntax_through_the_environment_variables() -> None:
    settings = ExporterSettings.from_env(
        {
            "REQLOG_REDACT_KEYS": "=code, ^state,iban",
            "REQLOG_UNREDACT_KEYS": "max_tokens,=ssn",
            "REQLOG_REDACT_HEADERS": "x-tenant",
        }  # fmt: skip
    )
    redactor = settings.redactor()
    body = {"code": 1, "state": 2, "my_iban": 3, "max_tokens": 4, "ssn": 5, "n": {"state": 6}}
    hidden = {"code": REDACTED, "state": REDACTED, "my_iban": REDACTED}
    assert redactor.redact_value(body) == {**hidden, "max_tokens": 4, "ssn": 5, "n": {"state": 6}}
    assert redactor.header_is_secret("X-Tenant-Id") and redactor.header_is_secret("Authorization")


def test_a_form_that_only_starts_like_json_is_still_a_form() -> None:
    form, redactor = "application/x-www-form-urlencoded", Redactor()
    whole = decode_body("[0]=a&password=hunter2", form, truncated=False, redactor=redactor)
    assert whole is not None and json.loads(whole) == {"[0]": "a", "password": REDACTED}
    cut = decode_body("[0]=a&password=hunter2", form, truncated=True, redactor=redactor)
    assert cut is not None and json.loads(cut) == f"[0]=a&password={REDACTED}"
