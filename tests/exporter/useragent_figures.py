"""Print how reqlog's user-agent fields compare with the `user-agents` library (not a test).

    .venv/bin/python -m tests.exporter.useragent_figures

Per field, on uap-core's corpus: agents where reqlog differs from the library as installed (its
pure-Python parse, ~25 s) and from the library's rules on the Rust parse; then the labelled set's
accuracy for both. Needs `make uap-core`.
"""

from __future__ import annotations

from exporter import classify

from .test_useragent_labelled import accuracy
from .useragent_reference import FIELDS, Answer, library, library_on_rust_parse, load_corpus


def _ours(ua: str) -> Answer:
    info = classify(ua)
    return Answer(info.device, info.device_type, info.os, info.browser, info.is_bot)


def _differences(agents: list[str], reference: list[Answer]) -> dict[str, int]:
    counts = dict.fromkeys(FIELDS, 0)
    for ua, theirs in zip(agents, reference, strict=True):
        for field, a, b in zip(FIELDS, _ours(ua), theirs, strict=True):
            counts[field] += a != b
    return counts


def main() -> None:
    agents = load_corpus()
    print(f"uap-core corpus: {len(agents)} distinct agents; reqlog differs from user-agents on")
    print("  (installed, pure-Python parse):", _differences(agents, [library(ua) for ua in agents]))
    print("  (its rules on the Rust parse): ", _differences(agents, library_on_rust_parse(agents)))
    figures = accuracy()
    print("labelled set, agents right per field (reqlog, user-agents):", figures)


if __name__ == "__main__":
    main()
