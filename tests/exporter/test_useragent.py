"""User-agent classification, following the `user-agents` library's rules."""

from __future__ import annotations

import pytest

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
    ("curl/8.5.0", ("Other", "other", "Other", "curl", False)),
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
