"""The README stays true: every setting has its variable documented, every linked page exists."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from exporter import ExporterSettings
from exporter.settings_table import CLIENT_SETTINGS, SETTINGS, markdown, variables
from instrumentation import Options
from instrumentation import settings_table as instrumentation_table
from query_api import ServiceSettings
from query_api.ui.settings import UiSettings

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def test_every_setting_variable_is_in_the_configuration_reference() -> None:
    fields = {f.name for cls in (ServiceSettings, ExporterSettings, Options) for f in dataclasses.fields(cls)}
    tables = (SETTINGS, instrumentation_table.SETTINGS, CLIENT_SETTINGS)
    variables = {f"REQLOG_{name.upper()}" for name in fields} | {s.variable for t in tables for s in t.values()}
    reference = README.split("## Configuration reference", 1)[1].split("\n## ", 1)[0]
    missing = sorted(v for v in variables if v not in reference)
    assert missing == []


def test_the_service_and_exporter_reference_is_generated_from_the_settings_table() -> None:
    service = [f.name for cls in (ServiceSettings, UiSettings) for f in dataclasses.fields(cls)]
    assert markdown(service) in README  # regenerate with `python -m exporter.settings_table`
    assert variables(f.name for f in dataclasses.fields(ExporterSettings)) in " ".join(README.split())


def test_the_instrumentation_reference_is_generated_from_its_settings_table() -> None:
    # regenerate with `python -m instrumentation.settings_table`
    assert instrumentation_table.markdown(instrumentation_table.SETTINGS.values()) in README
    assert instrumentation_table.markdown(CLIENT_SETTINGS.values()) in README


def test_every_option_has_its_entry_and_takes_its_default_from_it() -> None:
    entries = instrumentation_table.SETTINGS
    fields = dataclasses.fields(Options)
    assert all(f.metadata.get("setting") is entries[f.name] and f.default == entries[f.name].default for f in fields)
    assert {f.name for f in fields} < set(entries)  # the rest are `configure()`'s


def test_every_reqlog_variable_in_the_packages_is_declared_in_a_table() -> None:
    tables = (SETTINGS, instrumentation_table.SETTINGS, CLIENT_SETTINGS)
    declared = {setting.variable for table in tables for setting in table.values()}
    named = set()
    for package in ("instrumentation", "exporter", "query_api"):
        for path in (ROOT / package).rglob("*.py"):
            named |= set(re.findall(r"\bREQLOG_[A-Z_]+[A-Z]\b", path.read_text()))
    assert named and sorted(named - declared) == []


def test_every_setting_of_the_table_is_a_field_and_every_field_has_its_entry() -> None:
    fields = [f for cls in (ServiceSettings, ExporterSettings, UiSettings) for f in dataclasses.fields(cls)]
    assert all(f.metadata.get("setting") is SETTINGS[f.name] and f.default == SETTINGS[f.name].default for f in fields)
    assert {f.name for f in fields} == set(SETTINGS)


def test_linked_pages_exist() -> None:
    links = re.findall(r"\]\(((?:docs|examples)/[^)#]*)\)", README)
    assert links
    assert [link for link in links if not (ROOT / link).exists()] == []


def test_quick_start_is_the_two_commands() -> None:
    quick = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    assert "make run" in quick and "make test" in quick


def test_the_architecture_page_names_files_that_exist() -> None:
    page = (ROOT / "docs" / "architecture.md").read_text()
    named = set(re.findall(r"`((?:instrumentation|exporter|query_api|tests)/[\w/]+\.py)`", page))
    assert len(named) > 30
    assert sorted(path for path in named if not (ROOT / path).exists()) == []
