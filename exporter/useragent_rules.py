"""The `user-agents` library's device rules (2.2.0), applied to ua-parser 1.x's results.

`user-agents` is what the original service used to fill `device_type` and `is_bot`. Its rules are
restated here, not imported: it parses with ua-parser's pure-Python legacy API (~1 ms a user agent,
and blind to bot names past 100 characters), while reqlog parses with the Rust backend. Its rules are
kept as written, order included (tablet, then mobile, then pc), even where they key on names that
ua-parser 1.x no longer produces: `useragent_improvements` fixes those, each fix named and
documented, so that the difference from the library stays measurable (`tests/exporter/
test_useragent_corpus.py` checks this module against the library itself on uap-core's corpus).
"""

from __future__ import annotations

from typing import NamedTuple

OTHER = "Other"
MOBILE_DEVICE_FAMILIES = frozenset(
    {"iPhone", "iPod", "Generic Smartphone", "Generic Feature Phone", "PlayStation Vita", "iOS-Device"}
)
PC_OS_FAMILIES = frozenset({"Windows 95", "Windows 98", "Solaris"})
MOBILE_OS_FAMILIES = frozenset(
    {"Windows Phone", "Windows Phone OS", "Symbian OS", "Bada", "Windows CE", "Windows Mobile", "Maemo"}
)
MOBILE_BROWSER_FAMILIES = frozenset(
    {"IE Mobile", "Opera Mobile", "Opera Mini", "Chrome Mobile", "Chrome Mobile WebView", "Chrome Mobile iOS"}
)
TABLET_DEVICE_FAMILIES = frozenset(
    {"iPad", "BlackBerry Playbook", "Blackberry Playbook", "Kindle", "Kindle Fire", "Kindle Fire HD", "Galaxy Tab",
     "Xoom", "Dell Streak"}
)  # fmt: skip


class Parsed(NamedTuple):
    """What the rules read from one parse: the families, and the OS version as `user-agents` joins it."""

    ua: str
    device: str
    os: str
    os_version: str  # "10", "RT.8.1", "ME", "CE", "" ...: major.minor.patch of those present
    browser: str


class Verdict(NamedTuple):
    device_type: str  # "pc" | "mobile" | "tablet" | "other"
    is_bot: bool


def verdict(p: Parsed) -> Verdict:
    """`user-agents`' answer: the first of tablet, mobile, pc that holds, else other; bot = device Spider."""
    if is_tablet(p):
        device_type = "tablet"
    elif is_mobile(p):
        device_type = "mobile"
    elif is_pc(p):
        device_type = "pc"
    else:
        device_type = "other"
    return Verdict(device_type, p.device == "Spider")


def _is_android_tablet(p: Parsed) -> bool:
    # The library's reasoning: newer Android tablets leave "Mobile" out of their user agent.
    return "Mobile Safari" not in p.ua and p.browser != "Firefox Mobile"


def is_tablet(p: Parsed) -> bool:
    return (
        p.device in TABLET_DEVICE_FAMILIES
        or (p.os == "Android" and _is_android_tablet(p))
        or (p.os == "Windows" and p.os_version.startswith("RT"))
        or (p.os == "Firefox OS" and "Mobile" not in p.browser)
    )


def is_mobile(p: Parsed) -> bool:
    ua = p.ua
    return (
        p.device in MOBILE_DEVICE_FAMILIES
        or p.browser in MOBILE_BROWSER_FAMILIES
        or (p.os in ("Android", "Firefox OS") and not is_tablet(p))
        or (p.os == "BlackBerry OS" and p.device != "Blackberry Playbook")
        or p.os in MOBILE_OS_FAMILIES
        or "J2ME" in ua
        or "MIDP" in ua
        or "iPhone;" in ua
        or "Googlebot-Mobile" in ua
        or (p.device == "Spider" and "Mobile" in p.browser)
        or ("NokiaBrowser" in ua and "Mobile" in ua)
    )


def is_pc(p: Parsed) -> bool:
    ua = p.ua
    if "Windows NT" in ua or p.os in PC_OS_FAMILIES or (p.os == "Windows" and p.os_version == "ME"):
        return True
    if p.os == "Mac OS X" and "Silk" not in ua:
        return True
    if "Maemo" in ua:
        return False
    return "Chrome OS" in p.os or ("Linux" in ua and "X11" in ua)
