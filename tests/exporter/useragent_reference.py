"""The `user-agents` library as the reference for reqlog's user-agent fields, and the data to compare on.

Two ways to ask the library:
- `library(ua)`: the library exactly as installed, parsing with ua-parser's pure-Python legacy API
  (~1 ms a user agent, and blind to bot names past 100 characters). Used on the labelled set.
- `library_on_rust_parse(ua)`: the library's own `UserAgent` code, fed the parse of ua-parser's Rust
  backend (the one reqlog uses) in the legacy API's shape. It isolates the library's *rules* from
  the parser backend and runs uap-core's ~17,600 user agents in seconds, not ~25 s.

uap-core's test files come from Debian's `uap-core` package (`make uap-core` installs it): the npm
package of the same name ships only `regexes.yaml`, and no PyPI package ships the test files.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import yaml
from ua_parser import BestAvailableResolver, Parser, load_lazy_builtins

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import user_agents
    from user_agents import parsers as _library_parsers

UAP_CORE_TESTS = Path("/usr/share/uap-core/tests")
CORPUS_FILES = ("test_ua.yaml", "test_os.yaml", "test_device.yaml")
FIELDS = ("device", "device_type", "os", "browser", "is_bot")


class Answer(NamedTuple):
    device: str
    device_type: str
    os: str
    browser: str
    is_bot: bool


def load_corpus() -> list[str]:
    """Every distinct user agent of uap-core's three test files, sorted."""
    missing = [name for name in CORPUS_FILES if not (UAP_CORE_TESTS / name).is_file()]
    if missing:
        raise FileNotFoundError(f"uap-core's test files are missing ({missing}): run `make uap-core`")
    loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: 3 s instead of ~20 s
    agents: set[str] = set()
    for name in CORPUS_FILES:
        with (UAP_CORE_TESTS / name).open("rb") as stream:
            agents.update(case["user_agent_string"] for case in yaml.load(stream, Loader=loader)["test_cases"])
    return sorted(agents)


def _answer(agent: Any) -> Answer:
    # device_type as the original service derived it from the library: tablet, mobile, pc, else other.
    if agent.is_tablet:
        device_type = "tablet"
    elif agent.is_mobile:
        device_type = "mobile"
    elif agent.is_pc:
        device_type = "pc"
    else:
        device_type = "other"
    return Answer(agent.device.family, device_type, agent.os.family, agent.browser.family, agent.is_bot)


def library(ua: str) -> Answer:
    """The installed library, unchanged."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ua-parser's legacy API warns that it is legacy
        return _answer(user_agents.parse(ua))


_rust = Parser(BestAvailableResolver(load_lazy_builtins()))


def _legacy_shape(ua: str) -> dict[str, Any]:
    """The Rust parse in the dictionary shape of ua-parser's legacy `Parse`, which the library reads."""
    result = _rust.parse(ua).with_defaults()
    browser, os, device = result.user_agent, result.os, result.device
    return {
        "string": ua,
        "user_agent": {"family": browser.family, "major": browser.major, "minor": browser.minor,
                       "patch": browser.patch},
        "os": {"family": os.family, "major": os.major, "minor": os.minor, "patch": os.patch,
               "patch_minor": os.patch_minor},
        "device": {"family": device.family, "brand": device.brand, "model": device.model},
    }  # fmt: skip


class _RustLegacyParser:
    Parse = staticmethod(_legacy_shape)


@contextlib.contextmanager
def _library_reads_rust() -> Iterator[None]:
    saved = _library_parsers.user_agent_parser
    _library_parsers.user_agent_parser = _RustLegacyParser
    try:
        yield
    finally:
        _library_parsers.user_agent_parser = saved


def library_on_rust_parse(agents: list[str]) -> list[Answer]:
    """The library's rules on ua-parser's Rust parse, for each agent."""
    with _library_reads_rust():
        return [_answer(_library_parsers.UserAgent(ua)) for ua in agents]
