"""The project's error family: every error reqlog raises derives from `RequestLogError`."""

from __future__ import annotations


class RequestLogError(Exception):
    """Base class of every reqlog error."""


class ConfigError(RequestLogError, ValueError):
    """A setting has an invalid value; `name` is the setting (or its environment variable)."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(f"{name}: {message}")
        self.name = name
        self.message = message


class StorageError(RequestLogError):
    """The DuckDB store could not be opened, migrated or written."""


class LogNotFound(RequestLogError):
    """No request log has the id `request_id`."""

    def __init__(self, request_id: int) -> None:
        super().__init__(f"no request log with id {request_id}")
        self.request_id = request_id


class InvalidRequestId(RequestLogError):
    """`raw` is not a request-log id (an integer in the signed 64-bit range)."""

    def __init__(self, raw: str) -> None:
        super().__init__(f"not a request-log id: {raw!r}")
        self.raw = raw


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
