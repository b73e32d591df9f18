"""User agent -> device, device type, OS, browser and bot flag.

Parsing uses ua-parser 1.x with its Rust backend (`ua-parser-rs`, pulled in by the `ua-parser[regex]`
requirement): a cache miss costs ~30-50 us against ~1 ms for the pure-Python backend, and it is the
only backend whose rules recognise long bot user agents (Applebot, ChatGPT-User). `device`, `os` and
`browser` are ua-parser's families. `device_type` and `is_bot` follow the `user-agents` library's
rules (`useragent_rules`), then reqlog's named improvements on them (`useragent_improvements`).

The final classification is memoised per user-agent string: real traffic repeats a few thousand
agents, and a hit costs well under a microsecond. The memo is bounded by bytes (`bounded_cache`: a
client picks its user agent, at any length; `REQLOG_USER_AGENTS_CACHE_BYTES`), and the parser is built
without ua-parser's own cache, which held 2,000 agents of any size. A miss reads at most the first
`MAX_PARSED_CHARS` characters, so its cost is bounded too (real user agents stay under 600).
"""

from __future__ import annotations

from typing import NamedTuple

from ua_parser import BestAvailableResolver, Parser, load_lazy_builtins

from .bounded_cache import BoundedCache
from .useragent_improvements import improve
from .useragent_rules import OTHER, Parsed, verdict

MAX_PARSED_CHARS = 2048
DEFAULT_CACHE_BYTES = 8 * 1024 * 1024


class UserAgentInfo(NamedTuple):
    device: str
    device_type: str  # "pc" | "mobile" | "tablet" | "other"
    os: str
    browser: str
    is_bot: bool


UNKNOWN = UserAgentInfo(OTHER, "other", OTHER, OTHER, False)


def warm_up() -> None:
    """Build the parser now (0.1-0.4 s) instead of on the first span."""
    classify("Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:145.0) Gecko/20100101 Firefox/145.0")


_CACHE: BoundedCache[str, UserAgentInfo] = BoundedCache(
    "user agents", max_bytes=DEFAULT_CACHE_BYTES, max_key_chars=1024
)
_KNOWN = _CACHE.data
_parser: Parser | None = None


def classify(user_agent: str | None) -> UserAgentInfo:
    """Classify a User-Agent header value; `None` or an empty string gives `UNKNOWN`. Never raises."""
    if not user_agent:
        return UNKNOWN
    known = _KNOWN.get(user_agent)
    if known is not None:
        return known
    parsed = parse(user_agent)
    final, _ = improve(parsed, verdict(parsed))
    info = UserAgentInfo(parsed.device, final.device_type, parsed.os, parsed.browser, final.is_bot)
    return _CACHE.put(user_agent, info)


def parse(user_agent: str) -> Parsed:
    """ua-parser's families for the first `MAX_PARSED_CHARS` characters, "Other" where it found none."""
    global _parser
    if _parser is None:
        _parser = Parser(BestAvailableResolver(load_lazy_builtins()))
    ua = user_agent[:MAX_PARSED_CHARS]
    try:
        result = _parser.parse(ua)
    except UnicodeEncodeError:  # lone surrogates (a header decoded with surrogateescape): the Rust side wants UTF-8
        ua = ua.encode("utf-8", "replace").decode("utf-8")
        result = _parser.parse(ua)
    os = result.os
    os_version = ".".join(part for part in (os.major, os.minor, os.patch) if part) if os else ""
    return Parsed(
        ua,
        result.device.family if result.device else OTHER,
        os.family if os else OTHER,
        os_version,
        result.user_agent.family if result.user_agent else OTHER,
    )
