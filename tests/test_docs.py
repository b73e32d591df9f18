"""The README stays true: every setting has its variable documented, every linked page exists."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from exporter import ExporterSettings
from instrumentation import Options
from query_api import ServiceSettings

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def test_every_setting_variable_is_in_the_configuration_reference() -> None:
    fields = {f.name for cls in (ServiceSettings, ExporterSettings, Options) for f in dataclasses.fields(cls)}
    variables = {f"REQLOG_{name.upper()}" for name in fields} | {"REQLOG_EXPORTER", "REQLOG_ENDPOINT", "REQLOG_TOKEN"}
    reference = README.split("## Configuration reference", 1)[1].split("\n## ", 1)[0]
    missing = sorted(v for v in variables if v not in reference)
    assert missing == []


def test_linked_pages_exist() -> None:
    links = re.findall(r"\]\(((?:docs|examples)/[^)#]*)\)", README)
    assert links
    assert [link for link in links if not (ROOT / link).exists()] == []


def test_quick_start_is_the_two_commands() -> None:
    quick = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    assert "make run" in quick and "make test" in quick
