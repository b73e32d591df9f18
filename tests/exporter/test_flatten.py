"""Flattening real SDK spans into rows: both semconv generations, bodies, users, exceptions."""

from __future__ import annotations

import json

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from exporter import REDACTED, RequestLog, span_to_row
from exporter.flatten import build_row

from .spans import make_span

STABLE = {
    "http.request.method": "POST",
    "url.scheme": "https",
    "url.path": "/api/orders",
    "url.query": "page=2&tag=a&tag=b&token=abc",
    "http.response.status_code": 201,
    "client.address": "203.0.113.9",
    "user_agent.original": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1",
    "http.route": "/api/orders",
}
OLD = {
    "http.method": "POST",
    "http.scheme": "https",
    "http.target": "/api/orders",
    "http.url": "https://shop.example/api/orders?page=2&tag=a&tag=b&token=abc",
    "http.status_code": 201,
    "net.peer.ip": "203.0.113.9",
    "http.user_agent": STABLE["user_agent.original"],
    "http.route": "/api/orders",
}


@pytest.fixture
def flatten(tracer_provider: TracerProvider, span_exporter: InMemorySpanExporter):  # type: ignore[no-untyped-def]
    def run(attributes: dict[str, object], **kwargs: object) -> RequestLog:
        row = span_to_row(make_span(tracer_provider, span_exporter, attributes, **kwargs))  # type: ignore[arg-type]
        assert row is not None
        return row

    return run


@pytest.mark.parametrize("attributes", [STABLE, OLD], ids=["stable", "old"])
def test_both_semconv_generations_make_the_same_row(flatten, attributes) -> None:  # type: ignore[no-untyped-def]
    row = flatten(attributes)
    assert (row.method, row.scheme, row.endpoint, row.status_code, row.ip) == (
        "POST",
        "https",
        "/api/orders",
        201,
        "203.0.113.9",
    )
    assert json.loads(row.query_params) == {"page": "2", "tag": ["a", "b"], "token": REDACTED}
    assert (row.device, row.device_type, row.os, row.browser, row.is_bot) == (
        "iPhone",
        "mobile",
        "iOS",
        "Mobile Safari",
        False,
    )
    assert row.route == "/api/orders"
    assert row.duration == pytest.approx(0.115958)


def test_only_http_server_spans_make_rows(tracer_provider, span_exporter) -> None:  # type: ignore[no-untyped-def]
    client = make_span(tracer_provider, span_exporter, STABLE, kind=SpanKind.CLIENT)
    internal = make_span(tracer_provider, span_exporter, {"foo": "bar"}, kind=SpanKind.SERVER)
    assert span_to_row(client) is None
    assert span_to_row(internal) is None


def test_headers_canonical_names_joined_values_and_redaction(flatten) -> None:  # type: ignore[no-untyped-def]
    row = flatten(
        {
            **STABLE,
            "http.request.header.sec_fetch_dest": ("document",),
            "http.request.header.accept": ("text/html", "application/json"),
            "http.request.header.x-request-id": ("r-1",),
            "http.request.header.authorization": ("Token abc",),
            "http.request.header.cookie": ("a=1", "b=2"),
            "http.response.header.set_cookie": ("sid=1; Path=/", "csrftoken=2; Path=/"),
            "http.response.header.www_authenticate": ("Token",),
            "http.response.header.x_custom_thing": ("yes",),
        }
    )
    request = json.loads(row.request_headers)
    response = json.loads(row.response_headers)
    assert request["Sec-Fetch-Dest"] == "document"
    assert request["Accept"] == "text/html, application/json"
    assert request["X-Request-ID"] == "r-1"
    assert request["Authorization"] == REDACTED
    assert request["Cookie"] == REDACTED
    assert response["Set-Cookie"] == REDACTED
    assert response["WWW-Authenticate"] == "Token"
    assert response["x-custom-thing"] == "yes"


def test_user_from_attributes_and_enduser_fallback(flatten) -> None:  # type: ignore[no-untyped-def]
    row = flatten({**STABLE, "user.id": 42, "user.name": "ada", "user.full_name": "Ada Lovelace"})
    assert (row.user_id, row.username, row.user_full_name) == ("42", "ada", "Ada Lovelace")
    fallback = flatten({**STABLE, "enduser.id": "0b5d2c1e-uuid"})
    assert (fallback.user_id, fallback.username) == ("0b5d2c1e-uuid", None)
    anonymous = flatten(STABLE)
    assert (anonymous.user_id, anonymous.username, anonymous.user_full_name) == (None, None, None)


def test_exception_from_the_first_exception_event(flatten) -> None:  # type: ignore[no-untyped-def]
    try:
        raise ValueError("bad order")
    except ValueError as exc:
        row = flatten({**STABLE, "http.response.status_code": 500}, exception=exc)
    assert row.exception_type == "ValueError"
    assert row.exception_message == "bad order"
    assert row.exception_traceback is not None and "raise ValueError" in row.exception_traceback


def test_error_type_alone_when_there_is_no_event(flatten) -> None:  # type: ignore[no-untyped-def]
    assert flatten({**STABLE, "error.type": "TimeoutError"}).exception_type == "TimeoutError"
    # A bare status code in error.type marks an HTTP error, not an exception.
    assert flatten({**STABLE, "http.response.status_code": 503, "error.type": "503"}).exception_type is None


BODY_CASES = [
    ("application/json", '{"item": 3, "password": "hunter2", "nested": [{"cvv": "123"}]}', False,
     {"item": 3, "password": REDACTED, "nested": [{"cvv": REDACTED}]}),
    ("application/json; charset=utf-8", "[1, 2, 3]", False, [1, 2, 3]),
    ("application/x-www-form-urlencoded", "user=ada&password=x&tag=1&tag=2", False,
     {"user": "ada", "password": REDACTED, "tag": ["1", "2"]}),
    ("text/plain", "hello world", False, "hello world"),
    ("application/json", "{not json", False, "{not json"),
    ("application/json", '{"a": "long", "password": "hunt', True, '{"a": "long", "password": "[REDACTED]"'),
    ("multipart/form-data", '{"fields": ["name"], "files": [{"field": "f", "filename": "a.png", "size": 10}]}', False,
     {"fields": ["name"], "files": [{"field": "f", "filename": "a.png", "size": 10}]}),
]  # fmt: skip


@pytest.mark.parametrize(("content_type", "content", "truncated", "expected"), BODY_CASES)
def test_bodies_decoded_by_content_type(flatten, content_type, content, truncated, expected) -> None:  # type: ignore[no-untyped-def]
    row = flatten(
        {
            **STABLE,
            "http.request.body.content": content,
            "reqlog.request.body.content_type": content_type,
            "reqlog.request.body.truncated": truncated,
            "http.response.body.content": content,
            "reqlog.response.body.content_type": content_type,
        }
    )
    assert json.loads(row.body) == expected
    assert row.request_body_truncated is truncated
    assert row.response_body_truncated is False


# Keys that only read as secrets once their escapes are decoded: JSON's `\u` escapes, and the
# percent-encoding of forms and query strings. A pre-scan of the raw text must not miss them.
ESCAPED_KEY_CASES = [
    ("application/json", r'{"pass\u0077ord": "hunter2", "keep": 1}', False, {"password": REDACTED, "keep": 1}),
    ("application/json", r'{"keep": 1, "nested": {"\u0074oken": "t"}}', False,
     {"keep": 1, "nested": {"token": REDACTED}}),
    ("application/json", r'{"keep": 1, "pass\u0077ord": "hunt', True, r'{"keep": 1, "pass\u0077ord": "[REDACTED]"'),
    ("application/x-www-form-urlencoded", "pass%77ord=hunter2&keep=1", False, {"password": REDACTED, "keep": "1"}),
    ("application/x-www-form-urlencoded", "keep=1&api%5Fkey=k&x=lo", True, f"keep=1&api%5Fkey={REDACTED}&x=lo"),
]  # fmt: skip


@pytest.mark.parametrize(("content_type", "content", "truncated", "expected"), ESCAPED_KEY_CASES)
def test_escaped_secret_keys_are_redacted(flatten, content_type, content, truncated, expected) -> None:  # type: ignore[no-untyped-def]
    row = flatten(
        {
            **STABLE,
            "url.query": "page=1&pass%77ord=hunter2&%74oken=t",
            "http.request.body.content": content,
            "reqlog.request.body.content_type": content_type,
            "reqlog.request.body.truncated": truncated,
        }
    )
    assert json.loads(row.body) == expected
    assert json.loads(row.query_params) == {"page": "1", "password": REDACTED, "token": REDACTED}
    assert "hunter2" not in row.body and "hunter2" not in row.query_params


def test_binary_body_is_null_with_its_size_kept(flatten) -> None:  # type: ignore[no-untyped-def]
    row = flatten({**STABLE, "reqlog.response.body.content_type": "image/png", "http.response.body.size": 20480})
    assert row.response is None
    assert row.response_body_size == 20480
    assert flatten(STABLE).body is None


def test_content_type_falls_back_to_the_header(flatten) -> None:  # type: ignore[no-untyped-def]
    row = flatten(
        {
            **STABLE,
            "http.request.body.content": "a=1&b=2",
            "http.request.header.content_type": ("application/x-www-form-urlencoded",),
        }
    )
    assert json.loads(row.body) == {"a": "1", "b": "2"}


def test_empty_query_is_an_empty_object(flatten) -> None:  # type: ignore[no-untyped-def]
    row = flatten({k: v for k, v in STABLE.items() if k != "url.query"})
    assert row.query_params == "{}"


BAD_VALUES: list[dict[str, object]] = [
    {"http.response.status_code": "not a number", "client.address": 12345, "url.path": ["/a", "/b"]},
    {"user_agent.original": "x" * 200_000, "http.request.body.content": "é" * 300_000},
    {"http.request.body.content": b"\xff\xfe\x00binary", "reqlog.request.body.content_type": "application/json"},
    {"http.request.header.accept": 7, "http.request.header.host": (None, "ok"), "user.id": 3.5},
    {"url.query": "%zz=%%&&=x&a", "http.response.status_code": True, "user.full_name": ("a", "b")},
    {"http.response.status_code": 2**40, "http.request.body.size": 2**70, "http.response.body.size": -5.5},
]


@pytest.mark.parametrize("extra", BAD_VALUES)
def test_bad_span_data_never_raises_and_keeps_the_rest(extra: dict[str, object]) -> None:
    row = build_row(
        {**STABLE, **extra},
        events=[("exception", {"exception.type": 5, "exception.message": b"\xff"})],
        start_ns=1_700_000_000_000_000_000,
        end_ns=None,
        trace_id="0" * 32,
        span_id="1" * 16,
        service_name=None,
    )
    assert row is not None
    assert row.method == "POST"
    assert row.duration == 0.0
    assert row.status_code in (None, 201)
    assert row.request_body_size is None or row.request_body_size < 2**63
    for name in ("query_params", "body", "response", "request_headers", "response_headers"):
        text = getattr(row, name)
        assert text is None or json.loads(text) is not None or text == "null"


def test_invalid_utf8_body_bytes_are_binary() -> None:
    row = build_row(
        {"http.request.method": "PUT", "http.request.body.content": b"\xff\xfe", "http.request.body.size": 2},
        events=(),
        start_ns=0,
        end_ns=1000,
        trace_id=None,
        span_id=None,
        service_name=None,
    )
    assert row is not None and row.body is None and row.request_body_size == 2
