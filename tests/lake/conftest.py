"""Fixtures of the lake suite: one throwaway PostgreSQL per session, a fresh lake per test.

This suite runs in its own environment (`make test-lake`: DuckDB 1.5.5 and the extension wheels).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest

from exporter.lake import LakeConfig
from exporter.lake.provision import provision

from .postgres import ThrowawayPostgres

PASSWORDS = {"reqlog_writer": "writer-secret", "reqlog_analyst": "analyst-secret", "reqlog_accounts": "accounts-secret"}
_numbers = itertools.count(1)


@pytest.fixture(scope="session")
def postgres() -> Iterator[ThrowawayPostgres]:
    server = ThrowawayPostgres().start()
    try:
        yield server
    finally:
        server.stop()


class Lake:
    """One provisioned lake: its databases, its data directory, and the configs each role uses."""

    def __init__(self, server: ThrowawayPostgres, data: Path) -> None:
        number = next(_numbers)
        self.server = server
        self.lake_db, self.accounts_db = f"lake_{number}", f"accounts_{number}"
        self.data = data
        provision(server.dsn(), self.lake_db, self.accounts_db, PASSWORDS)

    def dsn(self, role: str, database: str | None = None) -> str:
        return self.server.dsn(database or self.lake_db, role, PASSWORDS[role])

    def writer(self, **overrides: object) -> LakeConfig:
        return LakeConfig(catalog=self.dsn("reqlog_writer"), data=str(self.data), **overrides)  # type: ignore[arg-type]

    def analyst(self) -> LakeConfig:
        return LakeConfig(catalog=self.dsn("reqlog_analyst"), data=str(self.data))

    def accounts(self) -> str:
        return self.dsn("reqlog_accounts", self.accounts_db)


@pytest.fixture
def lake(postgres: ThrowawayPostgres, tmp_path: Path) -> Lake:
    return Lake(postgres, tmp_path / "lake-data")
