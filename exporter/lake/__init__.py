"""reqlog on DuckLake: many writer, query and maintenance nodes over one PostgreSQL catalog and Parquet data.

The single DuckDB file (`exporter.store`) stays the default; this package is only imported when the
service runs with `--backend ducklake`. See docs/scale.md.
"""

from __future__ import annotations

from .config import LakeConfig
from .store import LakeStore

__all__ = ["LakeConfig", "LakeStore"]
