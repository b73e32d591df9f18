"""`reqlog lake-load DIR`: load `reqlog export` output into the lake of `REQLOG_LAKE_*`, ids kept."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from query_api.accounts.pg import lake_config
from query_api.settings import ServiceSettings


def add_commands(subparsers: argparse._SubParsersAction[Any]) -> None:
    load = subparsers.add_parser(
        "lake-load", help="load `reqlog export` output into the lake (REQLOG_LAKE_CATALOG, REQLOG_LAKE_DATA)"
    )
    load.add_argument("directory", type=Path, help="the export's directory (date=YYYY-MM-DD/part-0.parquet)")
    load.set_defaults(func=cmd_lake_load)


def cmd_lake_load(args: argparse.Namespace) -> int:
    from exporter.lake import LakeStore
    from exporter.lake.migrate import export_files, load_export

    settings = ServiceSettings.from_env(os.environ, backend="ducklake")
    files = export_files(args.directory)
    store = LakeStore(lake_config(settings))
    try:
        result = load_export(store, files)
    finally:
        store.close()
    print(
        f"loaded {result.rows} rows from {result.files} files ({result.skipped} already in the lake); "
        f"new requests get ids from {result.next_id}"
    )
    return 0
