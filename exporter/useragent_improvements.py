"""Where reqlog departs from `user-agents`' rules, one named rule per departure.

Each rule takes the parse and the library's verdict (`useragent_rules.verdict`) and returns a new
verdict when it applies, `None` otherwise. They are documented in `docs/design-notes.md` ("User
agents"), each has its own tests in `tests/exporter/test_useragent.py`, and the corpus test counts how
often each one changes the library's answer on uap-core's test corpus.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from .useragent_rules import OTHER, Parsed, Verdict

# Clients that send requests without a person behind each one: command-line and script HTTP clients
# (their name starts the header), headless browsers, page auditors and uptime monitors (anywhere in
# it). App HTTP stacks that carry people's requests (CFNetwork, okhttp, Dalvik, Dart) are not listed.
_SCRIPT_CLIENT = re.compile(
    r"(?:curl|wget2?|python-requests|python-urllib|python-httpx|python|aiohttp|httpx|go-http-client|go|java"
    r"|apache-httpclient|jakarta commons-httpclient|axios|node-fetch|node|undici|got|postmanruntime|insomnia"
    r"|httpie|libwww-perl|lwp::simple|ruby|faraday|guzzlehttp|php|scrapy|reqwest|restsharp|jersey|ahc"
    r"|wordpress|prometheus)(?![\w-])",
    re.IGNORECASE,
)
_AUTOMATION = re.compile(
    r"headlesschrome|phantomjs|lighthouse|puppeteer|playwright|slimerjs|htmlunit|jsdom|selenium|uptimerobot"
    r"|pingdom|statuscake|site24x7|uptime-kuma|better uptime|datadog|newrelicpinger|catchpoint|monitis"
    r"|rackspace monitoring|check_http|zabbix|blackbox[-_]exporter|kube-probe|elb-healthchecker|googlehc"
    r"|route53-health-check|consul health check|nagios|aiohttp/|python-requests/|windowspowershell",
    re.IGNORECASE,
)
_BOT_FAMILY = re.compile(r"(?:bot|spider|crawler?)(?:\b|$)", re.IGNORECASE)
_MOBILE_WORD = re.compile(r"\bMobile\b")
# Tablet model names an app's Dalvik header may carry: Galaxy Tab (SM-T/X/P, GT-P), Mi Pad, Nexus 7/9/10,
# Pixel C and Pixel Tablet, Kindle Fire (KF...), Lenovo Tab (TB-).
_TABLET_MODEL = re.compile(r"\b(?:SM-[TXP]\d|GT-P\d|MI PAD|Nexus (?:7|9|10)\b|Pixel (?:C|Tablet)\b|KF[A-Z]{2,6}\b|TB-)")
_TABLET_WORD = re.compile(r"\bTablet\b")
_ANDROID_TV = re.compile(
    r"Android ?TV|Google ?TV|Smart-?TV|BRAVIA|\bAFT[A-Z]|TV ?BOX|\bDroid TV\b|\bSHIELD\b|\bMiTV", re.IGNORECASE
)

Rule = Callable[[Parsed, Verdict], Verdict | None]


def windows_versions(p: Parsed, v: Verdict) -> Verdict | None:
    """The library asks for OS families "Windows 95", "Windows 98", "Windows CE" that ua-parser 1.x
    names "Windows" with version 95, 98, CE. Windows CE and Windows Phone apps (that ua-parser
    leaves without a version) are phones; desktop Windows of any version without `Windows NT`
    in the header (95, 98, "Windows 7" written by an app) is a pc."""
    if p.os != "Windows" or v.device_type != "other":
        return None
    if "Phone" in p.ua or p.os_version.startswith("CE"):
        return v._replace(device_type="mobile")
    if p.os_version and not p.os_version.startswith("RT"):
        return v._replace(device_type="pc")
    return None


def ios_app(p: Parsed, v: Verdict) -> Verdict | None:
    """iOS app traffic (`Name/1.0 CFNetwork/... Darwin/...`, or an app's own header naming iOS) is a
    phone, unless the app says iPad. The library calls CFNetwork a phone, never a tablet, and an app
    header that names iOS but no device `other`."""
    if p.os != "iOS" or v.device_type not in ("mobile", "other") or p.device not in ("iOS-Device", OTHER):
        return None
    device_type = "tablet" if "iPad" in p.ua else "mobile"
    return v._replace(device_type=device_type) if device_type != v.device_type else None


def unix_desktop(p: Parsed, v: Verdict) -> Verdict | None:
    """An X11 desktop that is not Linux (FreeBSD, OpenBSD, NetBSD): the library's pc rule asks for
    both "Linux" and "X11"."""
    if v.device_type == "other" and "X11" in p.ua and p.os.endswith("BSD"):
        return v._replace(device_type="pc")
    return None


def phone_os(p: Parsed, v: Verdict) -> Verdict | None:
    """KaiOS runs on phones only (ua-parser names it; the library does not know it)."""
    if v.device_type == "other" and p.os == "KaiOS":
        return v._replace(device_type="mobile")
    return None


def android_phone(p: Parsed, v: Verdict) -> Verdict | None:
    """The library takes Android without "Mobile Safari" for a tablet. A phone still says "Mobile"
    (browsers, WebViews and apps that write their own header), Opera Mini is a phone browser, and
    Dalvik (the system HTTP stack of Android apps) never names the form factor: most Android
    devices are phones, so it is a phone unless it names a tablet model."""
    if p.os != "Android" or v.device_type != "tablet" or p.device in _TABLETS:
        return None
    if _MOBILE_WORD.search(p.ua) or p.browser == "Opera Mini":
        return v._replace(device_type="mobile")
    if p.ua.startswith("Dalvik/") and not _TABLET_MODEL.search(p.ua):
        return v._replace(device_type="mobile")
    return None


_TABLETS = frozenset({"Generic Tablet", "iPad", "Kindle", "Kindle Fire", "Kindle Fire HD"})


def android_tablet(p: Parsed, v: Verdict) -> Verdict | None:
    """Firefox on an Android tablet says "Tablet" (ua-parser: device "Generic Tablet"); the library
    calls every "Firefox Mobile" a phone."""
    if p.os == "Android" and v.device_type == "mobile" and (p.device == "Generic Tablet" or _TABLET_WORD.search(p.ua)):
        return v._replace(device_type="tablet")
    return None


def tv_or_console(p: Parsed, v: Verdict) -> Verdict | None:
    """Android TV boxes and TVs (no "Mobile", so a tablet to the library) and Xbox consoles
    (`Windows NT` in their header, so a pc) are neither: `other`, like other TVs and consoles."""
    if v.device_type == "other":
        return None
    if (p.os == "Android" and _ANDROID_TV.search(p.ua)) or "Xbox" in p.ua:
        return v._replace(device_type="other")
    return None


def automated_client(p: Parsed, v: Verdict) -> Verdict | None:
    """curl, Wget, python-requests, Go-http-client and the like, headless browsers, page auditors
    and uptime monitors are bots; ua-parser calls few of them Spider. A header that starts with a
    script client's name names no device (ua-parser takes HTTPie and libwww-perl for feature phones)."""
    script = _SCRIPT_CLIENT.match(p.ua) is not None
    if not (script or _AUTOMATION.search(p.ua)):
        return None
    changed = v._replace(is_bot=True, device_type="other" if script else v.device_type)
    return changed if changed != v else None


def named_bot(p: Parsed, v: Verdict) -> Verdict | None:
    """A bot the parser names as the browser (Bytespider on an iPhone header, NewRelicPingerBot)
    while the device rule missed it."""
    if not v.is_bot and _BOT_FAMILY.search(p.browser):
        return v._replace(is_bot=True)
    return None


RULES: tuple[Rule, ...] = (
    windows_versions,
    unix_desktop,
    phone_os,
    ios_app,
    android_phone,
    android_tablet,
    tv_or_console,
    automated_client,
    named_bot,
)


def improve(p: Parsed, v: Verdict) -> tuple[Verdict, tuple[str, ...]]:
    """The verdict after every rule, and the names of the rules that changed it."""
    fired: list[str] = []
    for rule in RULES:
        changed = rule(p, v)
        if changed is not None and changed != v:
            v = changed
            fired.append(rule.__name__)
    return v, tuple(fired)
