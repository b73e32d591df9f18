"""Redaction of credential headers and password-like keys, with settings to add or keep."""

from __future__ import annotations

import pytest

from exporter import REDACTED, ConfigError, ExporterSettings, Redactor
from exporter.bodies import decode_body


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
