"""The client's address behind proxies: forwarding headers count only when the peer is trusted.

With no trusted proxies (the default) the socket peer is the client and no header is read, so a
client cannot choose the address it is logged under. When the direct peer is a trusted proxy, the
first forwarding header present among `X-Forwarded-For`, `Forwarded` and `X-Real-IP` is read from
the right: trusted hops are skipped and the right-most untrusted address is the client, so anything
a client prepends to the list itself changes nothing. Proxies should overwrite the headers they do
not use (the usual nginx and load-balancer configuration); `docs/instrumentation.md` says so.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence

_Address = ipaddress.IPv4Address | ipaddress.IPv6Address
_Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class ClientResolver:
    """Decides the client address from the socket peer and the forwarding headers."""

    __slots__ = ("_networks", "_exact", "enabled")

    def __init__(self, networks: Sequence[_Network]) -> None:
        self._networks = tuple(networks)
        # Single addresses are the common case (one load balancer): a set lookup, no iteration.
        self._exact = frozenset(str(n.network_address) for n in networks if n.num_addresses == 1)
        self.enabled = bool(self._networks)  # any trusted proxy at all

    def is_trusted(self, address: str) -> bool:
        """True when `address` is a trusted proxy; anything that is not an IP address is not."""
        if address in self._exact:
            return True
        ip = _parse_ip(address)
        if ip is None:
            return False
        if ip.version == 6 and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        return any(ip in network for network in self._networks)

    def resolve(
        self,
        peer: str | None,
        forwarded_for: Sequence[str] = (),
        forwarded: Sequence[str] = (),
        real_ip: Sequence[str] = (),
    ) -> str | None:
        """The client address. Header arguments are the raw values of each header (one per line)."""
        if peer is None or not self._networks or not self.is_trusted(peer):
            return peer
        if forwarded_for:
            hops = [hop.strip() for value in forwarded_for for hop in value.split(",")]
        elif forwarded:
            hops = list(_forwarded_for(forwarded))
        elif real_ip:
            hops = [real_ip[-1].strip()]
        else:
            return peer
        client = peer
        for hop in reversed(hops):
            address = _strip_port(hop)
            if _parse_ip(address) is None:
                # "unknown", an obfuscated node or garbage: the last trusted hop is all we know.
                return client
            client = address
            if not self.is_trusted(address):
                return address
        return client  # every hop was a trusted proxy: the left-most is the origin


def _parse_ip(value: str) -> _Address | None:
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        return None


def _strip_port(hop: str) -> str:
    """`[2001:db8::1]:443` -> `2001:db8::1`, `1.2.3.4:80` -> `1.2.3.4`, a bare IPv6 stays whole."""
    hop = hop.strip().strip('"')
    if hop.startswith("["):
        end = hop.find("]")
        return hop[1:end] if end > 0 else hop
    if hop.count(":") == 1:
        return hop.partition(":")[0]
    return hop


def _forwarded_for(values: Iterable[str]) -> Iterable[str]:
    """The `for=` parameter of each element of RFC 7239 `Forwarded` headers, in order."""
    for value in values:
        for element in value.split(","):
            for pair in element.split(";"):
                key, sep, node = pair.partition("=")
                if sep and key.strip().lower() == "for":
                    yield node.strip()
