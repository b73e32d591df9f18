"""Attacks on what reqlog writes: files at rest readable by others, secrets in the log, each a real `reqlog serve`."""

from __future__ import annotations

import stat
import urllib.request
from pathlib import Path

from query_api import service_file
from query_api.accounts import accounts_path_for
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
