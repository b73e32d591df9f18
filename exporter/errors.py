"""The exporter's and the store's errors. Every error reqlog raises derives from `RequestLogError`.

The root and `ConfigError` live in `instrumentation.errors`, the one module every package may import;
they are re-exported here for the exporter's and the service's code.
"""

from __future__ import annotations

from instrumentation.errors import ConfigError as ConfigError
from instrumentation.errors import RequestLogError as RequestLogError


class StorageError(RequestLogError):
    """The DuckDB store could not be opened, migrated or written."""


class SqlError(RequestLogError):
    """A query that cannot be answered; `message` is safe to show the caller."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class SqlRefused(SqlError):
    """The statement is not allowed in the sandbox (what and why is in `message`)."""


class SqlTimeout(SqlError):
    """The query ran past its time limit and was interrupted."""

    def __init__(self, timeout: float) -> None:
        super().__init__(f"The query was interrupted: it ran longer than the {timeout:g} s time limit.")
        self.timeout = timeout


class SqlFailed(SqlError):
    """DuckDB rejected or failed the query (syntax, unknown column, permission...)."""
