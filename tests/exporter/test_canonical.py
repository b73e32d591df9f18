"""Canonical row values whatever the SDK: the client address, the decoded path, the real method."""

from __future__ import annotations

import ipaddress
from typing import Any
from urllib.parse import quote, unquote_to_bytes

from django.utils.encoding import repercent_broken_unicode
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exporter import speedups
from exporter.canonical import canonical_ip, decoded_path
from exporter.flatten import build_row, build_values

PROPERTY = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
_speedups = speedups._speedups


def django_path(raw: str) -> str:
    """Django's `request.path` for a request line carrying `raw` (its WSGI handler's own steps)."""
    return repercent_broken_unicode(unquote_to_bytes(raw)).decode()


def row(**attributes: Any) -> Any:
    built = build_row({"http.request.method": "GET", **attributes}, events=(), start_ns=1, end_ns=2,
                      trace_id=None, span_id=None, service_name=None)  # fmt: skip
    assert built is not None
    return built


# -- endpoint ---------------------------------------------------------------------------------

NO_SURROGATES = st.characters(exclude_categories=["Cs"])
ESCAPE = st.builds(lambda b: f"%{b:02x}" if b % 3 else f"%{b:02X}", st.integers(0, 255))
RAW_PATHS = st.lists(st.text(NO_SURROGATES, max_size=3) | ESCAPE | st.sampled_from(["%", "%2", "%zz", "%25"]),
                     max_size=12).map(lambda parts: "/" + "".join(parts))  # fmt: skip


@PROPERTY
@given(RAW_PATHS)
def test_the_endpoint_is_djangos_request_path(raw: str) -> None:
    assert decoded_path(raw) == django_path(raw)
    assert row(**{"url.path": raw}).endpoint == django_path(raw)


@PROPERTY
@given(st.text(NO_SURROGATES, max_size=20))
def test_a_path_is_decoded_exactly_once(path: str) -> None:
    assert decoded_path(quote(path, safe="/")) == path
    assert decoded_path(quote(quote(path, safe="/"), safe="/")) == quote(path, safe="/")


def test_endpoint_examples() -> None:
    assert row(**{"url.path": "/files/caf%C3%A9/a%20b"}).endpoint == "/files/café/a b"
    assert row(**{"url.path": "/a%2525"}).endpoint == "/a%25"  # once, never twice
    assert row(**{"url.path": "/a%2Fb"}).endpoint == "/a/b"
    assert row(**{"url.path": "/bad%FF%e2%82"}).endpoint == "/bad%FF%E2%82"  # not UTF-8: kept, as Django does
    assert row(**{"url.path": "/100%"}).endpoint == "/100%"
    assert row(**{"http.target": "/caf%C3%A9?q=%41"}).endpoint == "/café"  # the older convention too
    assert row(**{"http.target": "/caf%C3%A9?q=%41"}).query_params == '{"q":"A"}'


# -- ip -----------------------------------------------------------------------------------------


def spellings(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> list[str]:
    """Ways SDKs write one address: compressed, exploded (Java), upper-case, IPv4-mapped (Node)."""
    if isinstance(address, ipaddress.IPv4Address):
        return [str(address), f"::ffff:{address}", f"0:0:0:0:0:ffff:{address}", f"::FFFF:{address}",
                str(ipaddress.IPv6Address(f"::ffff:{address}")), f"[::ffff:{address}]"]  # fmt: skip
    return [str(address), address.exploded, address.exploded.upper(), str(address).upper(), f"[{address}]",
            ":".join(f"{int(group, 16):x}" for group in address.exploded.split(":"))]  # fmt: skip


@PROPERTY
@given(st.ip_addresses())
def test_every_spelling_of_an_address_is_stored_alike(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> None:
    plain = address.ipv4_mapped if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped else address
    for spelling in spellings(address):
        assert canonical_ip(spelling) == str(plain), spelling
        assert row(**{"client.address": spelling}).ip == str(plain)


def test_ip_examples() -> None:
    assert row(**{"client.address": "::ffff:127.0.0.1"}).ip == "127.0.0.1"
    assert row(**{"client.address": "0:0:0:0:0:0:0:1"}).ip == "::1"
    assert row(**{"net.peer.ip": "2001:DB8:0:0:0:0:0:1"}).ip == "2001:db8::1"
    assert row(**{"client.address": "fe80::1%eth0"}).ip == "fe80::1%eth0"  # a zone is part of the address
    for odd in ["1.2.3.4:5678", "unknown", "::g", "", "10.0.0.1 "]:
        assert canonical_ip(odd) == odd  # no address: kept as sent, nothing lost
        assert row(**{"client.address": odd}).ip == (odd or None)


# -- method -------------------------------------------------------------------------------------


def test_an_unknown_method_is_the_one_sent() -> None:
    other = {"http.request.method": "_OTHER"}
    assert row(**other, **{"http.request.method_original": "PURGE"}).method == "PURGE"
    assert row(**other, **{"http.request.method_original": "purge"}).method == "PURGE"  # as Django's request.method
    assert row(**other).method == "_OTHER"  # nothing better to say
    assert row(**other, **{"http.request.method_original": ""}).method == "_OTHER"
    assert row(**other, **{"http.request.method_original": 7}).method == "7"
    # Only `_OTHER` defers to the original: a known method stays what the SDK normalised it to.
    assert row(**{"http.request.method": "get", "http.request.method_original": "GeT"}).method == "GET"


# -- the C speedups and the Python path make the same row ------------------------------------------

VALUES = st.one_of(st.none(), st.text(max_size=12), RAW_PATHS, st.ip_addresses().map(str),
                   st.ip_addresses().flatmap(lambda a: st.sampled_from(spellings(a))),
                   st.sampled_from(["_OTHER", "PURGE", "get"]), st.integers(-2, 2), st.booleans(),
                   st.tuples(st.text(max_size=3)))  # fmt: skip
KEYS = st.sampled_from(["http.request.method", "http.method", "http.request.method_original", "client.address",
                        "net.peer.ip", "http.client_ip", "url.path", "http.target", "url.full"])  # fmt: skip


@PROPERTY
@given(st.dictionaries(KEYS, VALUES, max_size=7))
def test_the_c_speedups_and_python_give_the_same_canonical_row(attributes: dict[str, Any]) -> None:
    span = {"events": (), "start_ns": 10**18, "end_ns": 10**18 + 5, "trace_id": None, "span_id": None,
            "service_name": None}  # fmt: skip
    compiled = build_values(attributes, **span)
    try:
        speedups._speedups = None
        assert build_values(attributes, **span) == compiled
    finally:
        speedups._speedups = _speedups
