"""User-agent classification: the `user-agents` library's rules, reqlog's named improvements, hostile strings."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exporter import classify, useragent
from exporter.useragent import UNKNOWN

CASES = [
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:145.0) Gecko/20100101 Firefox/145.0",
     ("Other", "pc", "Windows", "Firefox", False)),
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 "
     "Safari/605.1.15", ("Mac", "pc", "Mac OS X", "Safari", False)),
    ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
     ("Other", "pc", "Linux", "Chrome", False)),
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
     "Version/17.0 Mobile/15E148 Safari/604.1", ("iPhone", "mobile", "iOS", "Mobile Safari", False)),
    ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Mobile "
     "Safari/537.36", ("Pixel 8", "mobile", "Android", "Chrome", False)),
    # Chrome on iPad is a tablet: the tablet check comes first.
    ("Mozilla/5.0 (iPad; CPU OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/120.0 "
     "Mobile/15E148 Safari/604.1", ("iPad", "tablet", "iOS", "Chrome Mobile iOS", False)),
    ("Mozilla/5.0 (Linux; Android 13; SM-X700) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
     (None, "tablet", "Android", "Chrome", False)),
    ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
     ("Spider", "other", "Other", "Googlebot", True)),
    ("Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
     ("Spider", "other", "Other", "bingbot", True)),
    ("curl/8.5.0", ("Other", "other", "Other", "curl", True)),
]  # fmt: skip


@pytest.mark.parametrize(("user_agent", "expected"), CASES)
def test_classification(user_agent: str, expected: tuple[object, ...]) -> None:
    info = classify(user_agent)
    got = (info.device, info.device_type, info.os, info.browser, info.is_bot)
    for want, have in zip(expected, got, strict=True):
        if want is not None:  # None: the device model name depends on the rules' release
            assert have == want


@pytest.mark.parametrize("missing", [None, ""])
def test_missing_user_agent_is_unknown(missing: str | None) -> None:
    assert classify(missing) == UNKNOWN
    assert UNKNOWN.device_type == "other"


def test_repeated_agents_come_from_the_cache() -> None:
    agent = "Mozilla/5.0 (X11; Linux x86_64; rv:130.0) Gecko/20100101 Firefox/130.0 cache-test"
    classify(agent)
    assert agent in useragent._CACHE
    assert classify(agent) is classify(agent)


def test_the_rust_backend_is_the_one_in_use() -> None:
    import ua_parser

    assert ua_parser.BestAvailableResolver.__module__ == "ua_parser.regex"


# Each of reqlog's departures from `user-agents`' rules, with the library's answer it changes.
IMPROVEMENTS = [
    ("windows_versions", "Mozilla/4.0 (compatible; MSIE 5.0; Windows 98; DigExt)", ("other", False), ("pc", False)),
    ("windows_versions", "HTC_P3490 Mozilla/4.0 (compatible; MSIE 4.01; Windows CE; PPC)/UC Browser7.6.1.82",
     ("other", False), ("mobile", False)),
    ("unix_desktop", "Mozilla/5.0 (X11; FreeBSD amd64; rv:120.0) Gecko/20100101 Firefox/120.0",
     ("other", False), ("pc", False)),
    ("phone_os", "Mozilla/5.0 (Mobile; ALCATEL40440; rv:37.0) Gecko/37.0 Firefox/37.0 KaiOS/1.0",
     ("other", False), ("mobile", False)),
    ("ios_app", "JDSports-iPad/1.1 CFNetwork/672.0.8 Darwin/14.0.0", ("mobile", False), ("tablet", False)),
    ("ios_app", "Slack/23.12.10 (com.tinyspeck.chatlyio; build:231210; iOS 17.1.2) Alamofire/5.8.0",
     ("other", False), ("mobile", False)),
    ("android_phone", "Mozilla/5.0 (Linux; Android 12; moto g(60)) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/120.0 Mobile DuckDuckGo/5 Safari/537.36", ("tablet", False), ("mobile", False)),
    ("android_phone", "Opera/9.80 (Android; Opera Mini/7.6.35766/35.5706; U; en) Presto/2.8.119 Version/11.10",
     ("tablet", False), ("mobile", False)),
    ("android_phone", "Dalvik/2.1.0 (Linux; U; Android 13; Pixel 7 Build/TQ3A.230805.001)",
     ("tablet", False), ("mobile", False)),
    ("android_tablet", "Mozilla/5.0 (Android 14; Tablet; rv:121.0) Gecko/121.0 Firefox/121.0",
     ("mobile", False), ("tablet", False)),
    ("tv_or_console", "Mozilla/5.0 (Linux; Android 9; SHIELD Android TV) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/120.0 Safari/537.36", ("tablet", False), ("other", False)),
    ("tv_or_console", "Mozilla/5.0 (Windows NT 10.0; Win64; x64; Xbox; Xbox One) AppleWebKit/537.36 (KHTML, like "
     "Gecko) Chrome/70.0.3538.102 Safari/537.36 Edge/18.19041", ("pc", False), ("other", False)),
    ("automated_client", "curl/8.5.0", ("other", False), ("other", True)),
    ("automated_client", "python-requests/2.31.0", ("other", False), ("other", True)),
    ("automated_client", "Go-http-client/1.1", ("other", False), ("other", True)),
    ("automated_client", "HTTPie/3.2.2", ("mobile", False), ("other", True)),
    ("automated_client", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "HeadlessChrome/120.0.6099.109 Safari/537.36", ("pc", False), ("pc", True)),
    ("named_bot", "Mozilla/5.0 (iPhone; CPU iPhone OS 11_0 like Mac OS X) AppleWebKit/604.1.38 (KHTML, like Gecko) "
     "Version/11.0 Mobile/15A372 Safari/604.1 (compatible; Bytespider; https://zhanzhang.toutiao.com/)",
     ("mobile", False), ("mobile", True)),
]  # fmt: skip


@pytest.mark.parametrize(("rule", "user_agent", "library", "ours"), IMPROVEMENTS)
def test_each_improvement_changes_the_librarys_answer(
    rule: str, user_agent: str, library: tuple[str, bool], ours: tuple[str, bool]
) -> None:
    from exporter.useragent_improvements import improve
    from exporter.useragent_rules import verdict

    parsed = useragent.parse(user_agent)
    assert tuple(verdict(parsed)) == library
    final, fired = improve(parsed, verdict(parsed))
    assert rule in fired
    assert tuple(final) == ours
    info = classify(user_agent)
    assert (info.device_type, info.is_bot) == ours


@pytest.mark.parametrize(
    "user_agent",
    ["okhttp/4.12.0", "Dart/3.2 (dart:io)", "Yelp/8.0.0 CFNetwork/672.1.14 Darwin/14.0.0",
     "Dalvik/2.1.0 (Linux; U; Android 13; Pixel 7 Build/TQ3A.230805.001)",
     "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/114.0.5735.289 "
     "Electron/25.8.4 Safari/537.36"],
)  # fmt: skip
def test_app_http_stacks_carry_people_not_bots(user_agent: str) -> None:
    assert classify(user_agent).is_bot is False


def test_a_miss_reads_a_bounded_prefix() -> None:
    """A 1 MB header is classified by its first `MAX_PARSED_CHARS` characters, and never cached."""
    agent = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) " + "x" * 1_000_000
    assert classify(agent).device_type == "mobile"
    assert agent not in useragent._CACHE
    assert useragent.parse(agent).ua == agent[: useragent.MAX_PARSED_CHARS]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(st.characters(codec=None, exclude_categories=()), max_size=300))
def test_never_raises_on_any_string(user_agent: str) -> None:
    info = classify(user_agent)
    assert info.device_type in ("pc", "mobile", "tablet", "other")


@pytest.mark.parametrize(
    "user_agent",
    ["\ud800", "Mozilla/5.0 (iPhone; \udcff) Safari", "\x00\x01\x1b[31m\x7f", "\u202e" * 10, "a" * 1_000_000,
     "\ud83d" * 100_000, "Mozilla/5.0 (" * 50_000],
)  # fmt: skip
def test_never_raises_on_hostile_strings(user_agent: str) -> None:
    assert classify(user_agent).device_type in ("pc", "mobile", "tablet", "other")
