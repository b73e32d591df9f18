"""One spelling per value where SDKs differ: the client address, the path and the method of a row.

The same request makes the same row whichever SDK recorded it (docs/sql.md, "Canonical values"):

- `ip`: an IPv4-mapped IPv6 address (`::ffff:127.0.0.1`, what a Node server listening on `::`
  reports for every IPv4 client) becomes the IPv4 address; IPv6 is compressed and lower-case
  (`0:0:0:0:0:0:0:1`, Java's spelling, becomes `::1`). A value that is no IP address is kept as sent.
- `endpoint`: the path percent-decoded once, as Django's `request.path` is. Node and Java send
  `url.path` as the request line carried it (`/caf%C3%A9`); reqlog's middleware sends the same
  (`instrumentation.url_path`). `%2525` decodes to `%25`, never further. Bytes that are not UTF-8
  stay percent-encoded (`%FF`), as Django's `repercent_broken_unicode` keeps them: nothing is lost.
- `method`: the real method from `http.request.method_original` when the stable convention's
  `http.request.method` is `_OTHER` (an unknown method such as PURGE, in the JavaScript SDK).

Every function takes any value an attribute can hold and never raises. The usual values (an IPv4
address, a path without `%`, a known method) cost one `in` test each: this runs for every span.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from typing import Any

from instrumentation import attributes as attr

from .attribute_values import text

_ADDRESSES_MAX = 4096  # spellings remembered; clients vary, so the table is bounded
_ADDRESSES: dict[str, str] = {}
_ESCAPES = re.compile(r"(?:%[0-9A-Fa-f]{2})+")  # a run of escapes: one UTF-8 sequence may span several
_OTHER = "_OTHER"


def canonical_values(
    attributes: Mapping[str, Any], method: str, ip: str | None, path: str | None
) -> tuple[str, str | None, str | None]:
    """The row's method, ip and endpoint in their canonical spelling (the flattening's one hook)."""
    if method == _OTHER:
        method = text(attributes.get(attr.HTTP_REQUEST_METHOD_ORIGINAL)) or method
    if ip is not None and ":" in ip:
        ip = canonical_ip(ip)
    if path is not None and "%" in path:
        path = decoded_path(path)
    return method, ip, path


def canonical_ip(value: str) -> str:
    """`value` in the one spelling the row stores; unchanged when it is not an IP address."""
    known = _ADDRESSES.get(value)
    if known is None:
        known = _canonical_ip(value)
        if len(_ADDRESSES) < _ADDRESSES_MAX:
            _ADDRESSES[value] = known
    return known


def _canonical_ip(value: str) -> str:
    candidate = value
    if candidate.startswith("[") and candidate.endswith("]"):  # the URL form of an IPv6 host
        candidate = candidate[1:-1]
    try:
        address = ipaddress.ip_address(candidate)
    except ValueError:
        return value
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None and not address.scope_id:
        return str(address.ipv4_mapped)
    return str(address)  # compressed, lower-case; a zone (`fe80::1%eth0`) is kept


def decoded_path(path: str) -> str:
    """`path` with its percent-escapes decoded once; escapes of bytes that are not UTF-8 stay."""
    return _ESCAPES.sub(_decode_run, path)


def _decode_run(match: re.Match[str]) -> str:
    raw = bytes.fromhex(match.group().replace("%", ""))
    try:
        return raw.decode()
    except UnicodeDecodeError:
        # surrogateescape turns each byte that is not part of valid UTF-8 into U+DC80..U+DCFF.
        decoded = raw.decode("utf-8", "surrogateescape")
        return "".join(f"%{ord(c) - 0xDC00:02X}" if "\udc80" <= c <= "\udcff" else c for c in decoded)
