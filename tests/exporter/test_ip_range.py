"""The `ip` filter's SQL finds exactly the addresses Python's `ipaddress` puts in a network."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exporter.canonical import canonical_ip
from exporter.ip_range import ip_condition, parse_ip_filter

PROPERTY = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


@pytest.fixture(scope="module")
def db() -> Iterator[duckdb.DuckDBPyConnection]:
    connection = duckdb.connect()
    connection.execute("CREATE TABLE request_logs (n INTEGER, ip VARCHAR)")
    yield connection
    connection.close()


def matching(db: duckdb.DuckDBPyConnection, stored: list[str | None], value: str) -> list[int]:
    db.execute("DELETE FROM request_logs")
    db.executemany("INSERT INTO request_logs VALUES (?, ?)", list(enumerate(stored)))
    condition, params = ip_condition(parse_ip_filter(value))
    return [n for (n,) in db.execute(f"SELECT n FROM request_logs WHERE {condition} ORDER BY n", params).fetchall()]


def near(address: Address) -> st.SearchStrategy[list[Address]]:
    """Addresses around `address` (the edges of its networks) and anywhere, of both versions."""
    top = 2**address.max_prefixlen - 1
    offsets = st.integers(-(2**20), 2**20) | st.integers(-(2**40), 2**40)
    close = offsets.map(lambda d: ipaddress.ip_address(min(max(int(address) + d, 0), top)) if address.version == 6
                        else ipaddress.IPv4Address(min(max(int(address) + d, 0), top)))  # fmt: skip
    return st.lists(close | st.ip_addresses(), max_size=12)


@PROPERTY
@given(st.ip_addresses().flatmap(lambda a: st.tuples(st.just(a), st.integers(0, a.max_prefixlen), near(a))))
def test_a_network_holds_what_ipaddress_says(
    db: duckdb.DuckDBPyConnection, case: tuple[Address, int, list[Address]]
) -> None:
    address, prefix, others = case
    network = ipaddress.ip_network((address, prefix), strict=False)
    candidates = [address, network.network_address, network.broadcast_address, *others]
    stored = [canonical_ip(str(a)) for a in candidates]  # as rows store them
    expected = [n for n, a in enumerate(candidates) if ipaddress.ip_address(stored[n]) in _plain(network)]
    assert matching(db, stored, str(network)) == expected


def _plain(network: ipaddress.IPv4Network | ipaddress.IPv6Network) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    parsed = parse_ip_filter(str(network))
    return parsed if not isinstance(parsed, str) else ipaddress.ip_network(parsed)


def test_values_that_are_no_address_are_in_no_network(db: duckdb.DuckDBPyConnection) -> None:
    stored = [None, "", "unknown", "10.0.0", "10.0.0.1.5", "10.0.0.256", "12345::1", "1:2:3:4:5:6:7:8:9", "::g",
              "10.0.0.1"]  # fmt: skip
    assert matching(db, stored, "0.0.0.0/0") == [9]
    assert matching(db, stored, "::/0") == []


def test_network_examples(db: duckdb.DuckDBPyConnection) -> None:
    stored = ["10.0.0.1", "10.255.255.255", "11.0.0.0", "::1", "fe80::1%eth0", "2001:db8::1", "127.0.0.1"]
    assert matching(db, stored, "10.0.0.0/8") == [0, 1]
    assert matching(db, stored, "10.1.2.3/8") == [0, 1]  # host bits are allowed
    assert matching(db, stored, "::ffff:10.0.0.0/104") == [0, 1]  # the IPv4-mapped spelling of 10/8
    assert matching(db, stored, "::/0") == [3, 4, 5]  # IPv4 clients are in no IPv6 network
    assert matching(db, stored, "fe80::/10") == [4]
    assert matching(db, stored, "::ffff:127.0.0.1") == [6]  # one address, any spelling
    assert matching(db, stored, "0:0:0:0:0:0:0:1") == [3]
    assert matching(db, stored, "::1/128") == [3]


@pytest.mark.parametrize(
    "bad", ["10.0.0.0/33", "10.0.0.0/-1", "nope/8", "10.0.0/8", "::1/129", "10.0.0.1/8/8", "1.2.3"]
)
def test_bad_values_raise_value_error(bad: str) -> None:
    with pytest.raises(ValueError):
        parse_ip_filter(bad)
