"""User agent -> device, device type, OS, browser and bot flag.

Parsing uses ua-parser 1.x with its Rust backend (`ua-parser-rs`, pulled in by the `ua-parser[regex]`
requirement): a cache miss costs ~30-50 us against ~1 ms for the pure-Python backend, and it is the
only backend whose rules recognise long bot user agents (Applebot, ChatGPT-User). The
classification rules follow the widely used `user-agents` library, checked tablet -> mobile -> pc,
so Chrome on an iPad is a tablet. The final classification is memoised per user-agent string:
real traffic repeats a few thousand agents, and a hit costs well under a microsecond. The memo is
bounded by bytes (`bounded_cache`: a client picks its user agent, at any length), and the parser is
built without ua-parser's own cache, which held 2,000 agents of any size.
"""

from __future__ import annotations

from typing import NamedTuple

from ua_parser import BestAvailableResolver, Parser, load_lazy_builtins

from .bounded_cache import BoundedCache

_MOBILE_DEVICE_FAMILIES = frozenset(
    {"iPhone", "iPod", "Generic Smartphone", "Generic Feature Phone", "PlayStation Vita"}
)
_TABLET_DEVICE_FAMILIES = frozenset(
    {"iPad", "BlackBerry Playbook", "Blackberry Playbook", "Kindle", "Kindle Fire", "Kindle Fire HD", "Galaxy Tab",
     "Xoom", "Dell Streak"}
)  # fmt: skip
_PC_OS_FAMILIES = frozenset({"Windows 95", "Windows 98", "Windows ME", "Solaris", "Chrome OS", "ChromeOS"})
_MAC_OS_FAMILIES = frozenset({"Mac OS X", "macOS"})
_MOBILE_OS_FAMILIES = frozenset(
    {"Windows Phone", "Windows Phone OS", "Symbian OS", "Bada", "Windows CE", "Windows Mobile"}
)
_MOBILE_BROWSER_FAMILIES = frozenset({"Opera Mobile", "Opera Mini"})
OTHER = "Other"


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


_CACHE: BoundedCache[str, UserAgentInfo] = BoundedCache("user agents", max_bytes=8 * 1024 * 1024, max_key_chars=1024)
_KNOWN = _CACHE.data
_parser: Parser | None = None


def classify(user_agent: str | None) -> UserAgentInfo:
    """Classify a User-Agent header value; `None` or an empty string gives `UNKNOWN`."""
    if not user_agent:
        return UNKNOWN
    known = _KNOWN.get(user_agent)
    if known is not None:
        return known
    global _parser
    if _parser is None:
        _parser = Parser(BestAvailableResolver(load_lazy_builtins()))
    result = _parser.parse(user_agent)
    device = result.device.family if result.device else OTHER
    os_family = result.os.family if result.os else OTHER
    browser = result.user_agent.family if result.user_agent else OTHER
    device_type = _device_type(user_agent, device, os_family, browser)
    return _CACHE.put(user_agent, UserAgentInfo(device, device_type, os_family, browser, device == "Spider"))


def _device_type(ua: str, device: str, os_family: str, browser: str) -> str:
    if _is_tablet(ua, device, os_family, browser):
        return "tablet"
    if _is_mobile(ua, device, os_family, browser):
        return "mobile"
    if _is_pc(ua, os_family):
        return "pc"
    return "other"


def _is_android_tablet(ua: str, browser: str) -> bool:
    # Newer Android tablets leave "Mobile" out of their user agent.
    return "Mobile Safari" not in ua and browser not in ("Firefox Mobile", "Opera Mini")


def _is_tablet(ua: str, device: str, os_family: str, browser: str) -> bool:
    return (
        device in _TABLET_DEVICE_FAMILIES
        or (os_family == "Android" and _is_android_tablet(ua, browser))
        or os_family.startswith("Windows RT")
        or (os_family == "Firefox OS" and "Mobile" not in browser)
    )


def _is_mobile(ua: str, device: str, os_family: str, browser: str) -> bool:
    return (
        device in _MOBILE_DEVICE_FAMILIES
        or browser in _MOBILE_BROWSER_FAMILIES
        or os_family in ("Android", "Firefox OS")  # tablets were ruled out before
        or (os_family == "BlackBerry OS" and device != "Blackberry Playbook")
        or os_family in _MOBILE_OS_FAMILIES
        or "J2ME" in ua
        or "MIDP" in ua
        or "iPhone;" in ua
        or "Googlebot-Mobile" in ua
        or (device == "Spider" and "Mobile" in browser)
    )


def _is_pc(ua: str, os_family: str) -> bool:
    return (
        "Windows NT" in ua
        or os_family in _PC_OS_FAMILIES
        or (os_family in _MAC_OS_FAMILIES and "Silk" not in ua)
        or ("Linux" in ua and "X11" in ua)
    )
