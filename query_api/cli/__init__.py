"""The `reqlog` command: one module per command group (`main`: serve; `accounts`: account, token;
`analysis`: sql, export, prune; `demo`; `ops.backup_cli`: backup), plus what they share (`remote`,
`local_db`, `service_file`)."""

from __future__ import annotations

from query_api.cli.main import main

__all__ = ["main"]
