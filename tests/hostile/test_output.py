"""Attacks on what reqlog writes: files readable by others, the token in the log, terminal and spreadsheet injection."""

from __future__ import annotations

import csv
import io
import re
import stat
import urllib.request
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from query_api.accounts.db import accounts_path_for
from query_api.cli import service_file
from query_api.sql.output import cell_text, format_csv, format_table
from tests.otlp_payloads import pb_request, pb_span
from tests.query_api.harness import TOKEN_LINE, Service, reqlog


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_files_at_rest_are_readable_by_their_owner_only(tmp_path: Path) -> None:
    # Before: 0644 files and 0755 directories (the default umask), so any local user could read
    # request bodies and the accounts database.
    db = tmp_path / "fresh" / "data" / "reqlog.duckdb"
    service = Service(db, tmp_path / "serve.log")
    try:
        token = TOKEN_LINE.findall(service.stdout())[0]
        assert token not in service.stderr()  # printed once on stdout, never into the log
        ingest = reqlog("token", "create", "admin", db=db).stdout.strip()
        spans = [
            pb_span(
                {"http.request.method": "GET", "url.path": f"/p/{n}", "http.response.status_code": 200},
                trace_id=(n + 1).to_bytes(16, "big"),
                span_id=(n + 1).to_bytes(8, "big"),
            )
            for n in range(3)
        ]
        body = pb_request(spans).SerializeToString()
        request = urllib.request.Request(
            f"http://127.0.0.1:{service.port}/v1/traces",
            data=body,
            headers={"Content-Type": "application/x-protobuf", "Authorization": f"Token {ingest}"},
        )
        with urllib.request.urlopen(request, timeout=30) as answer:
            assert answer.status == 200
        wal = db.with_name(db.name + ".wal")
        files = [db, accounts_path_for(db), service_file.path_for(db)] + ([wal] if wal.exists() else [])
        for path in files:
            assert _mode(path) == 0o600, (path, oct(_mode(path)))
        for directory in (db.parent, db.parent.parent):
            assert _mode(directory) == 0o700, (directory, oct(_mode(directory)))
    finally:
        service.stop()
    for path in db.parent.iterdir():
        assert _mode(path) & 0o077 == 0, (path, oct(_mode(path)))


PLANTED = ["\x1b[2J\x1b]0;pwned\x07", "evil\rok", "\x9b31m", "a\u202eb", "\x00\x08\x7f"]


@given(st.text())
def test_planted_terminal_controls_are_shown_escaped_in_the_table(text: str) -> None:
    # Before: ESC, BEL, CR and C1 controls went to the terminal as they were.
    shown = format_table(["v"], [[text]], width=10_000)
    assert not re.search("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]", shown)


@pytest.mark.parametrize("text", PLANTED)
def test_each_planted_control_is_visible(text: str) -> None:
    assert "\\x" in cell_text(text) or "\\u" in cell_text(text)


@pytest.mark.parametrize("cell", ['=HYPERLINK("http://x")', "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)", "\tx", "\rx"])
def test_csv_formulas_are_neutralised_for_spreadsheets(cell: str) -> None:
    # Before: the cell went out as it came, and a spreadsheet runs it.
    safe = next(csv.reader(io.StringIO(format_csv(["v"], [[cell]]).splitlines()[1] + "\n")))
    assert safe == ["'" + cell.replace("\r", "")] or safe[0].startswith("'")
    raw = format_csv(["v"], [[cell], [-5]], spreadsheet_safe=False)
    assert "'" + cell not in raw and "\n-5\n" in raw
    assert "\n-5\n" in format_csv(["v"], [[-5]])  # a number is no formula
