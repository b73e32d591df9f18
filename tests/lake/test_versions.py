"""DuckDB versions: extensions from a repository as on DuckDB 2.x, and when to move the lake to 2.x.

On DuckDB 2.x the lake installs `ducklake` and `postgres_scanner` from an extension repository. That
path runs here for real on 1.5.5: the wheels' files are laid out as a local repository in DuckDB's
layout and `REQLOG_LAKE_EXTENSION_REPOSITORY` points at it, so `INSTALL ... FROM` and `LOAD` do the
work, into an extension directory under the test's own home.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from exporter.lake import LakeStore
from exporter.lake.extensions import lay_out_repository

from .conftest import Lake
from .rows import make_rows

WHEELS = ("duckdb-extension-ducklake", "duckdb-extension-postgres")


def test_the_extensions_install_from_a_configured_repository(
    lake: Lake, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repository = lay_out_repository(tmp_path / "repository")
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))  # DuckDB installs under ~/.duckdb: this test's, not the user's
    # Without the lock-down, which would keep duckdb_extensions() from looking at the extension directory.
    store = LakeStore(lake.writer(extension_repository=str(repository)), lockdown=False)
    try:
        installed = (
            store.cursor()
            .execute(
                "SELECT extension_name, installed_from, install_path FROM duckdb_extensions() "
                "WHERE loaded AND extension_name IN ('ducklake', 'postgres_scanner') ORDER BY 1"
            )
            .fetchall()
        )
        assert [(name, source) for name, source, _ in installed] == [
            ("ducklake", str(repository)),
            ("postgres_scanner", str(repository)),
        ]
        assert all(path.startswith(str(home)) for _, _, path in installed)
        assert [values[0] for values in store.insert_rows(make_rows(12))] == list(range(1, 13))
    finally:
        store.close()


def _published(package: str) -> list[str] | None:
    """The versions of `package` the configured package index offers this platform, or None if unreachable."""
    try:
        done = subprocess.run(
            [sys.executable, "-m", "pip", "index", "versions", package, "--disable-pip-version-check"],
            capture_output=True,
            text=True,
            timeout=90,
        )
    except subprocess.TimeoutExpired:
        return None
    listed = re.search(r"^Available versions: (.+)$", done.stdout, re.MULTILINE)
    return [version.strip() for version in listed.group(1).split(",")] if listed else None


def test_the_lake_still_has_no_duckdb_2_extension_wheels_to_move_to() -> None:
    """Fails once DuckLake's extension wheels for DuckDB 2 are published: then the lake moves to 2.x.

    Asks the package index pip is configured with. An unreachable index skips the test, saying so
    (CI reaches the index, so there the question is always asked).
    """
    published = {package: _published(package) for package in WHEELS}
    unreachable = [package for package, versions in published.items() if versions is None]
    if unreachable:
        pytest.skip(f"the package index could not be asked for {', '.join(unreachable)} (pip index versions)")
    newer = {package: [v for v in versions or [] if v.split(".")[0] == "2"] for package, versions in published.items()}
    ready = {package: versions for package, versions in newer.items() if versions}
    assert not ready, (
        f"DuckDB 2.x extension wheels are published ({ready}): move the lake venv to DuckDB 2.x "
        "(LAKE_DUCKDB in the Makefile, then run the lake on the project's own DuckDB)"
    )
