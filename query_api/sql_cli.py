"""`reqlog sql`, `reqlog export`, `reqlog prune`. Placeholder until the SQL work lands (issue 6)."""

from __future__ import annotations

import argparse
from typing import Any


def add_commands(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add the analysis subcommands to the `reqlog` parser (not yet implemented)."""
