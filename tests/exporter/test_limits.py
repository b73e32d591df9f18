"""`exporter.limits`: what one value may bring, cut and flagged as the instrumentation flags it."""

from __future__ import annotations

from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from exporter import flatten, limits, speedups
from exporter.row import COLUMN_NAMES
from instrumentation import attributes as attr

MIB = 1024 * 1024


def _build(**attributes: Any) -> dict[str, Any]:
    values = flatten.build_values(
        {"http.request.method": "POST", "url.path": "/p", **attributes}, (), 1, 2, "a" * 32, "b" * 16, "svc"
    )
    assert values is not None
    return dict(zip(COLUMN_NAMES, values, strict=True))


def test_the_body_positions_match_the_flattener_field_table() -> None:
    keys = [keys[0] for keys, _ in flatten._FIELD_TABLE]
    for content, size, truncated in limits.BODY_FIELDS:
        assert keys[content].endswith(".body.content")
        assert keys[size].endswith(".body.size") and keys[size].split(".")[1] == keys[content].split(".")[1]
        assert keys[truncated].endswith(".body.truncated")


def test_a_body_past_the_cap_is_cut_and_flagged_with_its_real_size() -> None:
    row = _build(**{attr.REQUEST_BODY_CONTENT: "é" * MIB, attr.REQUEST_BODY_CONTENT_TYPE: "text/plain"})
    assert row["request_body_truncated"] is True
    assert row["request_body_size"] == 2 * MIB  # bytes of UTF-8, as the span did not say
    stored = orjson.loads(row["body"])
    assert stored == "é" * (MIB // 2)  # cut on a character boundary at 1 MiB of UTF-8


def test_a_cut_json_body_keeps_its_secrets_scrubbed() -> None:
    body = '{"password": "hunter2", "pad": "' + "x" * (2 * MIB) + '"}'
    row = _build(**{attr.RESPONSE_BODY_CONTENT: body, attr.RESPONSE_BODY_CONTENT_TYPE: "application/json"})
    assert row["response_body_truncated"] is True and "hunter2" not in row["response"]


def test_a_body_under_the_cap_is_untouched_and_the_span_size_is_kept() -> None:
    row = _build(**{attr.REQUEST_BODY_CONTENT: "small", attr.REQUEST_BODY_CONTENT_TYPE: "text/plain"})
    assert row["body"] == '"small"' and row["request_body_truncated"] is False
    big = _build(**{attr.REQUEST_BODY_CONTENT: b"z" * (3 * MIB), attr.REQUEST_BODY_SIZE: 9 * MIB,
                    attr.REQUEST_BODY_CONTENT_TYPE: "text/plain"})  # fmt: skip
    assert big["request_body_size"] == 9 * MIB and len(orjson.loads(big["body"])) == MIB


def test_the_cap_is_a_setting() -> None:
    try:
        limits.configure(max_body_bytes=4096)
        row = _build(**{attr.REQUEST_BODY_CONTENT: "q" * 5000, attr.REQUEST_BODY_CONTENT_TYPE: "text/plain"})
        assert len(orjson.loads(row["body"])) == 4096
    finally:
        limits.configure(max_body_bytes=limits.DEFAULT_MAX_BODY_BYTES)


def test_huge_headers_and_exception_text_are_cut_with_a_marker() -> None:
    row = _build(
        **{"http.request.header.user_agent": ("U" * (2 * MIB),), "http.request.header.x_pad": ("c" * 300_000,)}
    )
    headers = orjson.loads(row["request_headers"])
    assert len(row["request_headers"]) <= limits.MAX_JSON_CHARS
    assert headers["User-Agent"].endswith(f"cut {2 * MIB - limits.MAX_HEADER_VALUE_CHARS} characters]")
    assert headers["X-Pad"].startswith("c" * limits.MAX_HEADER_VALUE_CHARS)
    text = limits.cap_text("t" * 100_000, limits.MAX_TEXT_CHARS)
    assert text.startswith("t" * limits.MAX_TEXT_CHARS) and text.endswith(
        f"cut {100_000 - limits.MAX_TEXT_CHARS} characters]"
    )


def test_a_body_attribute_of_another_type_costs_only_its_own_field() -> None:
    # An OTLP sender may put any value in any attribute: an integer body once failed its whole span.
    row = _build(
        **{attr.REQUEST_BODY_CONTENT: 12345, attr.RESPONSE_BODY_CONTENT: 1.5, "http.response.status_code": 200}
    )
    assert (row["body"], row["response"], row["status_code"]) == (
        '"12345"',
        '"1.5"',
        200,
    )  # stored as text: JSON strings


TEXT_AT = (0, 2)
JSON_AT = (1,)
ROW_VALUES = st.tuples(*[st.none() | st.integers() | st.text(max_size=12) | st.binary(max_size=12)] * 3)


@settings(max_examples=300, deadline=None)
@given(ROW_VALUES, st.integers(0, 10), st.integers(0, 10))
def test_over_limit_in_c_is_its_python_twin(values: tuple[Any, ...], text_limit: int, json_limit: int) -> None:
    expected = speedups.python_over_limit(values, TEXT_AT, text_limit, JSON_AT, json_limit)
    assert expected == any(
        isinstance(values[i], str) and len(values[i]) > limit
        for indexes, limit in ((TEXT_AT, text_limit), (JSON_AT, json_limit))
        for i in indexes
    )
    assert speedups.over_limit(values, TEXT_AT, text_limit, JSON_AT, json_limit) is expected
