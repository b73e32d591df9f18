"""Without the extension wheels and without a reachable repository, the lake says what is missing."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from exporter.errors import StorageError
from exporter.lake.extensions import load_extensions, wheel_file


def test_missing_extensions_name_the_wheel_and_the_repository_setting(tmp_path: Path) -> None:
    if wheel_file("duckdb_extension_ducklake", "ducklake.duckdb_extension") is not None:
        pytest.skip("this environment has the wheels: tests/lake load them")  # the lake environment
    con = duckdb.connect(config={"extension_directory": str(tmp_path / "extensions")})
    try:
        with pytest.raises(StorageError) as raised:
            load_extensions(con, repository=str(tmp_path / "empty-repository"))
    finally:
        con.close()
    message = str(raised.value)
    assert duckdb.__version__ in message
    assert "duckdb-extension-postgres" in message and "REQLOG_LAKE_EXTENSION_REPOSITORY" in message
