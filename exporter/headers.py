"""Header names and values as the request-log API shows them.

OpenTelemetry hands headers over lowercased, with `-` turned into `_` by the Python instrumentation
(`http.request.header.sec_fetch_dest`), and values as tuples. Rows show them the way Django did:
registered names in their usual spelling (`WWW-Authenticate`, `ETag`, `X-CSRFToken`), other request
headers Title-Cased (`X-Request-Id`), and other response headers in the case they arrived in, since
the app chose that case and ASGI has already lowercased it (`djdt-request-id`).
"""

from __future__ import annotations

from collections.abc import Iterable

from .bounded_cache import BoundedCache

_KNOWN = (
    "Accept", "Accept-Charset", "Accept-Encoding", "Accept-Language", "Accept-Ranges",
    "Access-Control-Allow-Credentials", "Access-Control-Allow-Headers", "Access-Control-Allow-Methods",
    "Access-Control-Allow-Origin",
    "Access-Control-Expose-Headers", "Access-Control-Max-Age", "Access-Control-Request-Headers",
    "Access-Control-Request-Method", "Age", "Allow", "Alt-Svc", "Authorization", "Cache-Control", "Connection",
    "Content-Disposition", "Content-Encoding", "Content-Language", "Content-Length", "Content-Location",
    "Content-MD5", "Content-Range", "Content-Security-Policy", "Content-Security-Policy-Report-Only",
    "Content-Type", "Cookie", "Cross-Origin-Embedder-Policy", "Cross-Origin-Opener-Policy",
    "Cross-Origin-Resource-Policy", "DNT", "Date", "ETag", "Expect", "Expires", "Forwarded", "From", "Host",
    "If-Match", "If-Modified-Since", "If-None-Match", "If-Range", "If-Unmodified-Since", "Keep-Alive",
    "Last-Modified", "Link", "Location", "Max-Forwards", "Origin", "Permissions-Policy", "Pragma", "Priority",
    "Proxy-Authenticate", "Proxy-Authorization", "Range", "Referer", "Referrer-Policy", "Retry-After",
    "Sec-CH-UA", "Sec-CH-UA-Mobile", "Sec-CH-UA-Platform", "Sec-Fetch-Dest", "Sec-Fetch-Mode", "Sec-Fetch-Site",
    "Sec-Fetch-User", "Sec-WebSocket-Accept", "Sec-WebSocket-Key", "Sec-WebSocket-Protocol",
    "Sec-WebSocket-Version", "Server", "Server-Timing", "Set-Cookie", "Strict-Transport-Security", "TE",
    "Timing-Allow-Origin", "Trailer", "Transfer-Encoding", "Upgrade", "Upgrade-Insecure-Requests", "User-Agent",
    "Vary", "Via", "WWW-Authenticate", "Warning", "X-Api-Key", "X-Auth-Token", "X-CSRFToken",
    "X-Content-Type-Options", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "X-Frame-Options",
    "X-Real-IP", "X-Request-ID", "X-Requested-With", "X-XSS-Protection", "traceparent", "tracestate", "baggage",
)  # fmt: skip
_CANONICAL = {name.lower(): name for name in _KNOWN}


def canonical_name(raw: str, *, request: bool) -> str:
    """`user_agent` -> `User-Agent`; unknown request headers Title-Cased, unknown response ones kept."""
    key = (raw, request)
    known = _NAMES.get(key)
    if known is None:
        known = _NAMES.put(key, _canonical_name(raw, request=request))
    return known


# Bounded by bytes: clients choose header names, at any length (`bounded_cache`).
_NAMES: BoundedCache[tuple[str, bool], str] = BoundedCache("header names", max_bytes=1024 * 1024, max_key_chars=256)


def _canonical_name(raw: str, *, request: bool) -> str:
    name = raw.strip().lower().replace("_", "-")
    known = _CANONICAL.get(name)
    if known is not None:
        return known
    if request:
        return "-".join(part[:1].upper() + part[1:] for part in name.split("-"))
    return name


def join_values(name: str, values: Iterable[str]) -> str | list[str]:
    """Join several values of one header as HTTP does (RFC 9110 5.3); cookies with `; `.

    `Set-Cookie` cannot be folded into one line (RFC 6265 3), so several of them stay a list.
    """
    items = list(values)
    if len(items) == 1:
        return items[0]
    lowered = name.lower()
    if lowered == "cookie":
        return "; ".join(items)
    if lowered == "set-cookie":
        return items
    return ", ".join(items)
