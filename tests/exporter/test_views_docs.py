"""Every ```sql example in docs/sql.md runs, as written, through the service's sandbox."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from query_api.sql.sandbox import run_sql
from tests.query_api.sqldata import service_store

DOC = Path(__file__).resolve().parents[2] / "docs" / "sql.md"
EXAMPLES = re.findall(r"```sql\n(.*?)```", DOC.read_text(), flags=re.DOTALL)


def test_the_page_has_examples() -> None:
    assert len(EXAMPLES) >= 12


@pytest.mark.parametrize("sql", EXAMPLES, ids=[f"example{i}" for i in range(len(EXAMPLES))])
def test_example_runs_in_the_sandbox(db_path: Path, sql: str) -> None:
    with service_store(db_path, rows=200) as store:
        result = run_sql(store.cursor(), sql)
    assert result.columns
    if "now()" not in sql:  # the seeded rows are from 2025; relative windows may find none
        assert result.rows, sql
