"""The pure pieces: options from the environment, client address behind proxies, body capture."""

from __future__ import annotations

import ipaddress

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from instrumentation import OptionError, Options, RequestLogWSGIMiddleware
from instrumentation.capture import MULTIPART, SIZE, TEXT, BodyCapture, choose_mode
from instrumentation.client import ClientResolver
from instrumentation.multipart import MultipartSummary
from instrumentation.options import DEFAULT_BODY_CONTENT_TYPES, parse_networks

# -- options ---------------------------------------------------------------------------------


def test_defaults() -> None:
    options = Options.from_env({})
    assert options.max_body_bytes == 64 * 1024
    assert options.capture_request_body and options.capture_response_body and options.summarize_multipart
    assert options.body_content_types == DEFAULT_BODY_CONTENT_TYPES
    assert options.trusted_proxies == () and options.excluded_urls == ()


def test_environment_and_argument_precedence() -> None:
    env = {
        "REQLOG_MAX_BODY_BYTES": "1024",
        "REQLOG_CAPTURE_RESPONSE_BODY": "false",
        "REQLOG_TRUSTED_PROXIES": "10.0.0.0/8, ::1",
        "REQLOG_EXCLUDED_URLS": "/health,/static/.*",
        "REQLOG_BODY_CONTENT_TYPES": "application/json",
        "REQLOG_SUMMARIZE_MULTIPART": "no",
    }
    options = Options.from_env(env, max_body_bytes=10)
    assert options.max_body_bytes == 10  # argument beats the variable
    assert options.capture_response_body is False and options.summarize_multipart is False
    assert options.trusted_proxies == ("10.0.0.0/8", "::1")
    assert options.excluded_urls == ("/health", "/static/.*")
    assert options.body_content_types == ("application/json",)


def test_otel_variables_are_the_fallback() -> None:
    assert Options.from_env({"OTEL_PYTHON_EXCLUDED_URLS": "ping"}).excluded_urls == ("ping",)
    env = {"OTEL_PYTHON_EXCLUDED_URLS": "ping", "REQLOG_EXCLUDED_URLS": "pong"}
    assert Options.from_env(env).excluded_urls == ("pong",)
    otel = {"OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SANITIZE_FIELDS": "cookie,set-cookie"}
    assert Options.from_env(otel).sanitize_headers == ("cookie", "set-cookie")


@pytest.mark.parametrize(
    ("env", "kwargs", "option"),
    [
        ({"REQLOG_MAX_BODY_BYTES": "lots"}, {}, "max_body_bytes"),
        ({}, {"max_body_bytes": -1}, "max_body_bytes"),
        ({"REQLOG_CAPTURE_REQUEST_BODY": "maybe"}, {}, "capture_request_body"),
        ({}, {"trusted_proxies": ["10.0.0.0/33"]}, "trusted_proxies"),
        ({}, {"excluded_urls": ["("]}, "excluded_urls"),
        ({}, {"sanitize_headers": ["[a-"]}, "sanitize_headers"),
        ({}, {"body_content_types": ["json"]}, "body_content_types"),
        ({}, {"max_bytes": 3}, "max_bytes"),
    ],
)
def test_bad_options_fail_up_front(env: dict[str, str], kwargs: dict[str, object], option: str) -> None:
    with pytest.raises(OptionError) as info:
        Options.from_env(env, **kwargs)
    assert info.value.option == option and isinstance(info.value, ValueError)


@pytest.mark.parametrize(
    ("mime", "allowed"),
    [
        ("application/json", True),
        ("application/problem+json", True),
        ("application/x-www-form-urlencoded", True),
        ("text/html", True),
        ("text/event-stream", True),
        ("image/png", False),
        ("application/octet-stream", False),
        ("application/xml", False),
    ],
)
def test_default_content_type_allowlist(mime: str, allowed: bool) -> None:
    assert Options().content_type_matcher()(mime) is allowed


def test_choose_mode() -> None:
    allowed = Options().content_type_matcher()
    assert choose_mode("application/json; charset=utf-8", None, allowed=allowed, summarize_multipart=True) == TEXT
    assert choose_mode("application/json", "gzip", allowed=allowed, summarize_multipart=True) == SIZE
    assert choose_mode("multipart/form-data; boundary=x", None, allowed=allowed, summarize_multipart=True) == MULTIPART
    assert choose_mode("multipart/form-data; boundary=x", None, allowed=allowed, summarize_multipart=False) == SIZE
    assert choose_mode(None, None, allowed=allowed, summarize_multipart=True) == SIZE


# -- client address --------------------------------------------------------------------------


def _resolver(*trusted: str) -> ClientResolver:
    return ClientResolver(parse_networks(trusted))


def test_no_trusted_proxies_means_the_peer() -> None:
    assert _resolver().resolve("198.51.100.1", ["1.2.3.4"], ["for=1.2.3.4"], ["1.2.3.4"]) == "198.51.100.1"


@pytest.mark.parametrize(
    ("peer", "xff", "forwarded", "real_ip", "expected"),
    [
        ("10.0.0.1", ["203.0.113.9"], [], [], "203.0.113.9"),
        ("10.0.0.1", ["1.1.1.1, 203.0.113.9, 10.0.0.7"], [], [], "203.0.113.9"),  # right-most untrusted
        ("10.0.0.1", ["1.1.1.1", "203.0.113.9"], [], [], "203.0.113.9"),  # several header lines
        ("10.0.0.1", ["10.0.0.3, 10.0.0.2"], [], [], "10.0.0.3"),  # all trusted: the origin
        ("10.0.0.1", ["unknown, 10.0.0.2"], [], [], "10.0.0.2"),  # garbage stops the walk
        ("10.0.0.1", ["203.0.113.9:5555"], [], [], "203.0.113.9"),
        ("10.0.0.1", [], ['for="[2001:db8::17]:4711";proto=https, for=10.0.0.9'], [], "2001:db8::17"),
        ("10.0.0.1", [], ["for=192.0.2.60;proto=http;by=203.0.113.43"], [], "192.0.2.60"),
        ("10.0.0.1", [], [], ["192.0.2.8"], "192.0.2.8"),
        ("10.0.0.1", [], [], [], "10.0.0.1"),  # trusted proxy that forwarded nothing
        ("192.0.2.1", ["203.0.113.9"], [], [], "192.0.2.1"),  # untrusted peer: the header is ignored
        ("::ffff:10.0.0.1", ["203.0.113.9"], [], [], "203.0.113.9"),  # IPv4-mapped peer
    ],
)
def test_forwarded_headers_from_trusted_proxies(
    peer: str, xff: list[str], forwarded: list[str], real_ip: list[str], expected: str
) -> None:
    assert _resolver("10.0.0.0/8").resolve(peer, xff, forwarded, real_ip) == expected


@given(spoofed=st.lists(st.ip_addresses().map(str), max_size=5), client=st.ip_addresses(v=4))
def test_a_client_cannot_choose_its_address(spoofed: list[str], client: ipaddress.IPv4Address) -> None:
    """Whatever a client prepends, the address the trusted proxy appended wins."""
    if ipaddress.ip_address(client) in ipaddress.ip_network("10.0.0.0/8"):
        return
    header = ", ".join([*spoofed, str(client)])
    assert _resolver("10.0.0.0/8").resolve("10.9.9.9", [header]) == str(client)


# -- body capture ----------------------------------------------------------------------------


def _attributes(capture: BodyCapture) -> dict[str, object]:
    out: dict[str, object] = {}
    capture.write_attributes(out, ("c", "t", "s", "x"))
    return out


def test_text_capture_keeps_a_prefix_across_chunks() -> None:
    capture = BodyCapture(TEXT, "text/plain", limit=10)
    for chunk in (b"abcd", b"efgh", b"ijkl"):
        capture.feed(chunk)
    assert _attributes(capture) == {"c": "abcdefghij", "t": "text/plain", "s": 12, "x": True}


def test_a_character_cut_by_the_limit_is_dropped() -> None:
    capture = BodyCapture(TEXT, "text/plain", limit=4)
    capture.feed("abcé".encode())  # é is two bytes: the limit cuts it in half
    assert _attributes(capture)["c"] == "abc"


@pytest.mark.parametrize(
    ("length", "declared"),
    [("12", 12), (" 12 ", 12), ("0", 0), (None, None), ("", None), ("-1", None), ("1e3", None), ("\u00b2", None)],
)
def test_only_a_plain_non_negative_content_length_is_a_declared_length(
    length: str | None, declared: int | None
) -> None:
    """`"\u00b2"` (superscript two) is a digit to `str.isdigit` but no number to `int`."""
    core = RequestLogWSGIMiddleware(lambda environ, start_response: [], options=Options.from_env({}))
    for capture in (True, False):
        body = core.body_capture("text/plain", None, length, capture=capture)
        assert (body.declared, body.complete) == (declared, declared == 0)


def test_empty_body_without_type_gives_nothing() -> None:
    assert _attributes(BodyCapture(SIZE, None, limit=10)) == {}


def _multipart(boundary: str, parts: list[tuple[str, str | None, bytes]]) -> bytes:
    out = b""
    for name, filename, data in parts:
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        out += f"--{boundary}\r\nContent-Disposition: {disposition}\r\n".encode()
        if filename:
            out += b"Content-Type: application/octet-stream\r\n"
        out += b"\r\n" + data + b"\r\n"
    return out + f"--{boundary}--\r\n".encode()


@given(chunk_size=st.integers(min_value=1, max_value=64))
def test_multipart_summary_does_not_depend_on_chunking(chunk_size: int) -> None:
    body = _multipart(
        "XyZ",
        [("title", None, b"hello"), ("file", "a.bin", b"\r\n--Xy" * 30), ("title", None, b"again")],
    )
    summary = MultipartSummary(b"XyZ", max_bytes=1000)
    for start in range(0, len(body), chunk_size):
        summary.feed(body[start : start + chunk_size])
    assert summary.result() == {
        "title": ["hello", "again"],
        "file": {"filename": "a.bin", "content_type": "application/octet-stream", "size": 180},
    }
    assert summary.truncated is False


def test_multipart_capture_attributes_and_cut_off_upload() -> None:
    body = _multipart("b", [("note", None, b"x" * 50), ("f", "big.bin", b"\0" * 10_000)])
    capture = BodyCapture(MULTIPART, "multipart/form-data; boundary=b", limit=20)
    capture.feed(body[:5000])  # the client went away mid-upload
    attributes = _attributes(capture)
    assert orjson.loads(attributes["c"]) == {
        "note": "x" * 20,
        "f": {"filename": "big.bin", "content_type": "application/octet-stream", "size": 5000 - body.index(b"\0")},
    }
    assert attributes["t"] == "multipart/form-data" and attributes["s"] == 5000 and attributes["x"] is True
