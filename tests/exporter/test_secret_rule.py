"""The "may this hold a secret" rule: one table of vectors, run against the Python rule and its C twin.

The rule exists once, in `Redactor` (`key_is_secret` for a name, `may_hold_secret` for raw text);
the C scans are handed the same rule as bytes and must give the same verdicts: a key of a JSON body
(`json_scan`), a query key (`query_json`, which leaves a secret key to the Python walk) and raw text
(`text_holds_secret`). Each vector runs against every implementation, so a case added here is a
case for both twins.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from exporter import Redactor, speedups

from ..speedups_gate import C_ONLY

REDACTOR = Redactor()

# (name, top level?, secret?): header-style, camelCase, dotted and spaced spellings of one name.
KEY_VECTORS = [
    ("password", False, True),
    ("Pass-Word", False, True),
    ("PASS_WORD", True, True),
    ("pass.word", False, True),
    ("pass word", False, True),
    ("pass+word", True, True),
    ("API_KEY", False, True),
    ("privateKey", False, True),
    ("card.number", False, True),
    ("X-Amz-Signature", False, True),
    ("refresh_token", False, True),
    ("csrfmiddlewaretoken", False, True),
    ("max_tokens", False, True),  # a word inside a name: only an exception (`!max_tokens`) keeps it
    ("pwd", False, True),
    ("Authorization", False, True),
    ("sig", False, True),  # whole names: the name itself ...
    ("Sig", True, True),
    ("s.s.n", False, True),
    ("pin", False, True),
    ("pinned", False, False),  # ... not a name containing it
    ("signal", True, False),
    ("authority", False, False),
    ("key", True, True),  # top-level names: secret in the root object or a query ...
    ("Key", True, True),
    ("access", True, True),
    ("refresh", True, True),
    ("key", False, False),  # ... and data below it
    ("access", False, False),
    ("monkey", True, False),
    ("keys", True, False),
    ("sku", True, False),
    ("qty", False, False),
    ("items", True, False),
    ("note", False, False),
    ("user", True, False),
    ("", True, False),
]

# (raw text, may hold a secret?): what the pre-scan of query strings, forms and text bodies says.
TEXT_VECTORS = [
    ("page=2&sort=desc&tag=a&tag=b", False),
    ("sku=1&qty=2", False),
    ("", False),
    ("hello world", False),
    ("token=abc", True),
    ("a=1&Pass-Word=x", True),
    ("X-Amz-Signature=1", True),
    ("next=/home&refresh=1", True),
    ("monkey=1", True),  # errs towards "may": `key` is looked for inside the text
    ("pinned=1", True),
    ("q=pass%77ord", True),  # an escape: only decoding can tell
    ('{"pass\\u0077ord": 1}', True),
    ('{"note": "my password"}', True),  # a value naming a secret: the walk decides
    ("PIN", True),
]


def _json_key_c(key: str, top: bool) -> bool:
    document = {key: 1} if top else [{key: 1}]
    verdict: int = speedups._speedups.json_scan(json.dumps(document), *REDACTOR.key_rule_utf8)
    return verdict == speedups.JSON_MAY_HOLD_SECRET


def _query_key_c(key: str, top: bool) -> bool:
    # Every query key is top-level; C writes a query with no secret key itself and leaves the rest.
    return speedups._speedups.query_json(f"{key}=v", *REDACTOR.key_rule_utf8) is None


KEY_RULES: list[object] = [
    pytest.param(lambda key, top: REDACTOR.key_is_secret(key, top=top), id="python"),
    pytest.param(_json_key_c, id="c-json_scan", marks=C_ONLY),
]


def _text_c(text: str) -> bool | None:
    found: bool | None = speedups._speedups.text_holds_secret(text, REDACTOR.scan_keys_utf8)
    return found


TEXT_RULES: list[object] = [
    pytest.param(REDACTOR.may_hold_secret, id="python"),
    pytest.param(_text_c, id="c", marks=C_ONLY),
]


@pytest.mark.parametrize("rule", KEY_RULES)
@pytest.mark.parametrize(("key", "top", "secret"), KEY_VECTORS)
def test_key_rule(rule: Callable[[str, bool], bool], key: str, top: bool, secret: bool) -> None:
    assert rule(key, top) is secret


@C_ONLY
@pytest.mark.parametrize(("key", "secret"), [(key, secret) for key, top, secret in KEY_VECTORS if top and key])
def test_query_keys_follow_the_same_rule(key: str, secret: bool) -> None:
    assert _query_key_c(key, True) is secret


@pytest.mark.parametrize("rule", TEXT_RULES)
@pytest.mark.parametrize(("text", "may"), TEXT_VECTORS)
def test_text_rule(rule: Callable[[str], bool], text: str, may: bool) -> None:
    assert rule(text) is may


@pytest.mark.parametrize(("key", "top", "secret"), KEY_VECTORS)
def test_the_python_json_scan_never_misses_a_secret_key(key: str, top: bool, secret: bool) -> None:
    # The Python twin of json_scan reads the raw text: it may say "may" more often, never less.
    document = json.dumps({key: 1} if top else [{key: 1}])
    if secret:
        assert speedups.python_scan_json(document, REDACTOR) == speedups.JSON_MAY_HOLD_SECRET


def test_a_redactor_with_its_own_names_is_the_same_rule_in_c_and_python() -> None:
    redactor = Redactor.build(add_keys=["x-tenant", "=code", "^id"], keep_keys=["pin"])
    cases = [("X_Tenant_Name", False), ("code", False), ("codes", False), ("id", True), ("id", False), ("pin", True)]
    python = [redactor.key_is_secret(key, top=top) for key, top in cases]
    assert python == [True, True, False, True, False, False]
    if speedups.COMPILED:
        documents = [json.dumps({key: 1} if top else [{key: 1}]) for key, top in cases]
        c = [speedups._speedups.json_scan(d, *redactor.key_rule_utf8) == 1 for d in documents]
        assert c == python
