"""Loading DuckDB's `ducklake` and `postgres_scanner` extensions, from PyPI wheels or a repository.

DuckDB 2.x builds in only `core_functions`, `icu`, `json` and `parquet`; the other extensions come
from DuckDB's extension repository. Where that is unreachable, PyPI's `duckdb-extension-ducklake`
and `duckdb-extension-postgres` wheels carry the binaries, but only for the DuckDB version they
were built for (1.5.5 today), and the postgres one must be loaded under the file name
`postgres_scanner.duckdb_extension`: DuckDB derives the entry point's name from the file name
(docs/scale.md). So a configured repository is used first (`INSTALL ... FROM <repository>` then
`LOAD`: the operator chose it); else the wheels' files, copied under the right names into a directory
and loaded from there; else `INSTALL` from DuckDB's own repository.

`lay_out_repository` writes the wheels' files as a repository directory in DuckDB's layout
(`<repository>/v<version>/<platform>/<name>.duckdb_extension.gz`, what DuckDB's HTTP repositories
serve too): the mirror an air-gapped site points `REQLOG_LAKE_EXTENSION_REPOSITORY` at.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import shutil
import tempfile
from pathlib import Path

import duckdb

from ..errors import StorageError

# (the name DuckDB loads it by, the PyPI wheel's module, the file name inside the wheel)
EXTENSIONS = (
    ("postgres_scanner", "duckdb_extension_postgres", "postgres.duckdb_extension"),
    ("ducklake", "duckdb_extension_ducklake", "ducklake.duckdb_extension"),
)


def wheel_file(module: str, file_name: str) -> Path | None:
    """The extension binary a PyPI wheel installed for this DuckDB version, or None."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        return None
    candidate = Path(next(iter(spec.submodule_search_locations))) / "extensions" / f"v{duckdb.__version__}" / file_name
    return candidate if candidate.is_file() else None


def _staged(name: str, source: Path) -> Path:
    """`source` copied as `<name>.duckdb_extension` into a per-content directory (copied once per machine)."""
    digest = hashlib.sha256(str(source).encode() + str(source.stat().st_mtime_ns).encode()).hexdigest()[:16]
    directory = Path(tempfile.gettempdir()) / f"reqlog-duckdb-extensions-{digest}"
    target = directory / f"{name}.duckdb_extension"
    if not target.is_file():
        directory.mkdir(parents=True, exist_ok=True)
        partial = directory / f".{name}.{id(target)}.partial"
        shutil.copyfile(source, partial)
        partial.replace(target)  # atomic: a concurrent process sees the whole file or none
    return target


def lay_out_repository(directory: Path) -> Path:
    """The installed wheels' extensions as a DuckDB extension repository in `directory` (returned).

    Raises `StorageError` when a wheel for this DuckDB is missing.
    """
    (platform,) = duckdb.execute("PRAGMA platform").fetchall()[0]
    target = directory / f"v{duckdb.__version__}" / str(platform)
    target.mkdir(parents=True, exist_ok=True)
    for name, module, file_name in EXTENSIONS:
        source = wheel_file(module, file_name)
        if source is None:
            raise StorageError(f"no `{module.replace('_', '-')}` wheel for DuckDB {duckdb.__version__} is installed")
        with (
            source.open("rb") as binary,
            gzip.open(target / f"{name}.duckdb_extension.gz", "wb", compresslevel=1) as packed,
        ):
            shutil.copyfileobj(binary, packed)
    return directory


def load_extensions(con: duckdb.DuckDBPyConnection, repository: str | None = None) -> None:
    """Load both extensions into `con`, before any lock-down. Raises `StorageError` naming what is missing."""
    for name, module, file_name in EXTENSIONS:
        source = None if repository else wheel_file(module, file_name)
        try:
            if source is not None:
                con.execute(f"LOAD '{_staged(name, source)}'")
                continue
            install = f"INSTALL {name}" + (f" FROM '{repository}'" if repository else "")
            con.execute(install)
            con.execute(f"LOAD {name}")
        except duckdb.Error as exc:
            raise StorageError(
                f"cannot load DuckDB's {name} extension on DuckDB {duckdb.__version__}: {exc}. Install the "
                f"`{module.replace('_', '-')}` wheel matching this DuckDB, or reach an extension repository "
                "(REQLOG_LAKE_EXTENSION_REPOSITORY)"
            ) from exc
