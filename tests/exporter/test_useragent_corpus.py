"""reqlog against the `user-agents` library on uap-core's public test corpus (~17,600 distinct agents).

reqlog must give the library's answer on every agent, except where one of its named improvements
(`exporter.useragent_improvements.RULES`, documented in docs/design-notes.md) changes it; the
library's rules are checked on the same parse (`library_on_rust_parse`), so a difference is a
difference of rules, not of parser backend. Runs in ~5 s: the corpus is loaded and classified once.
"""

from __future__ import annotations

from collections import Counter

import pytest

from exporter import useragent
from exporter.useragent_improvements import RULES, improve
from exporter.useragent_rules import verdict

from .useragent_reference import FIELDS, Answer, library_on_rust_parse, load_corpus


class CorpusRun:
    def __init__(self) -> None:
        self.agents = load_corpus()
        self.library = library_on_rust_parse(self.agents)
        self.ours: list[Answer] = []
        self.faithful: list[tuple[str, bool]] = []
        self.fired: list[tuple[str, ...]] = []
        for ua in self.agents:
            parsed = useragent.parse(ua)
            before = verdict(parsed)
            after, fired = improve(parsed, before)
            self.faithful.append((before.device_type, before.is_bot))
            self.fired.append(fired)
            info = useragent.classify(ua)
            self.ours.append(Answer(info.device, info.device_type, info.os, info.browser, info.is_bot))


@pytest.fixture(scope="module")
def run() -> CorpusRun:
    return CorpusRun()


def test_the_corpus_is_uap_cores(run: CorpusRun) -> None:
    assert len(run.agents) > 17_000


def test_the_library_rules_are_followed_faithfully(run: CorpusRun) -> None:
    """Before any improvement, reqlog's rules answer exactly as the library's own code."""
    wrong = [
        (ua, (lib.device_type, lib.is_bot), ours)
        for ua, lib, ours in zip(run.agents, run.library, run.faithful, strict=True)
        if (lib.device_type, lib.is_bot) != ours
    ]
    assert wrong[:10] == [] and len(wrong) == 0


def test_device_os_and_browser_are_the_parsers_families(run: CorpusRun) -> None:
    wrong = [
        (ua, lib, ours)
        for ua, lib, ours in zip(run.agents, run.library, run.ours, strict=True)
        if (lib.device, lib.os, lib.browser) != (ours.device, ours.os, ours.browser)
    ]
    assert wrong == []


def test_every_difference_from_the_library_is_a_named_improvement(run: CorpusRun) -> None:
    unexplained = []
    per_rule: Counter[str] = Counter()
    per_field: Counter[str] = Counter()
    for ua, lib, ours, fired in zip(run.agents, run.library, run.ours, run.fired, strict=True):
        differs = [field for field, a, b in zip(FIELDS, lib, ours, strict=True) if a != b]
        per_field.update(differs)
        per_rule.update(fired)
        if differs and not fired:
            unexplained.append((ua, lib, ours))
    print(f"\ncorpus: {len(run.agents)} agents; differences per field {dict(per_field)}; per rule {dict(per_rule)}")
    assert unexplained == []
    # Each rule is narrow: together they change at most 3% of the corpus (today ~1.6%).
    assert sum(1 for fired in run.fired if fired) < 0.03 * len(run.agents)
    assert set(per_rule) <= {rule.__name__ for rule in RULES}
    # Rules that real corpus agents exercise (the others are exercised by the labelled set).
    assert {"windows_versions", "ios_app", "android_phone", "automated_client", "named_bot"} <= set(per_rule)
