"""`reqlog backup` against a real `reqlog serve` that keeps ingesting, then the documented restore, run as written."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from exporter.row import RequestLog
from exporter.value_parts import ROWS_TABLE
from query_api.ops.backup import BackupError, write_backup
from tests.hermetic import clean_environ
from tests.otlp_payloads import pb_request, pb_span
from tests.query_api.harness import Service, make_accounts, make_row, seed

DOCS = Path(__file__).resolve().parents[2] / "docs" / "operations.md"


def _restore_block() -> str:
    text = DOCS.read_text()
    section = text[text.index("To restore a file backup") :]
    match = re.search(r"```sh\n(.*?)```", section, re.DOTALL)
    assert match is not None, "the restore procedure lost its commands"
    return match.group(1)


def _post(port: int, token: str, first: int, count: int) -> int:
    spans = [
        pb_span({"http.request.method": "POST", "url.path": f"/live/{k}"}, span_id=(10_000 + k).to_bytes(8, "big"))
        for k in range(first, first + count)
    ]
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/v1/traces",
        data=pb_request(spans).SerializeToString(),
        headers={"Content-Type": "application/x-protobuf", "Authorization": f"Token {token}"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return int(response.status)


def _reqlog(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "query_api.cli", *args], capture_output=True, text=True, timeout=120, env=clean_environ()
    )


def _count(path: Path) -> tuple[int, int, int]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        (row,) = con.execute("SELECT count(*), count(DISTINCT id), max(id) FROM request_logs").fetchall()
        return int(row[0]), int(row[1]), int(row[2])
    finally:
        con.close()


def test_backup_while_ingesting_then_the_documented_restore(tmp_path: Path) -> None:
    data = tmp_path / "srv" / "reqlog" / "data"
    db = data / "reqlog.duckdb"
    seed(db, [make_row(k) for k in range(300)])
    tokens = make_accounts(data / "accounts.sqlite3")
    backups = tmp_path / "backups"
    backups.mkdir()
    service = Service(db, tmp_path / "serve.log")
    stop = threading.Event()
    sent = [0]

    def keep_ingesting() -> None:  # a bounded stream of writes while the backup runs
        while not stop.is_set() and sent[0] < 400:
            assert _post(service.port, tokens.ingest_only, sent[0], 5) == 200
            sent[0] += 5

    writer = threading.Thread(target=keep_ingesting)
    try:
        writer.start()
        done = _reqlog(
            "backup",
            "--url",
            f"http://127.0.0.1:{service.port}",
            "--token",
            tokens.admin,
            "--out",
            str(backups / "reqlog-2026-12-06.duckdb"),
            "--accounts-out",
            str(backups / "accounts-2026-12-06.sqlite3"),
            "--accounts-db",
            str(data / "accounts.sqlite3"),
        )
        stop.set()
        writer.join(timeout=60)
        assert done.returncode == 0, done.stderr
        assert _post(service.port, tokens.ingest_only, 5_000, 7) == 200  # after the backup: not in it
    finally:
        stop.set()
        writer.join(timeout=60)
        assert service.stop(signal.SIGTERM) == 0
    backed_up, distinct, _ = _count(backups / "reqlog-2026-12-06.duckdb")
    assert backed_up == distinct and 300 <= backed_up <= 300 + sent[0]
    assert f"backed up {backed_up:,} rows" in done.stderr
    assert _count(db)[0] == 300 + sent[0] + 7

    # The documented restore, as written, with the test's directories for /srv/reqlog/data and /backups.
    (data / "reqlog.duckdb.wal").write_bytes(b"a stale log that must not be replayed")
    script = _restore_block().replace("/srv/reqlog/data", str(data)).replace("/backups", str(backups))
    subprocess.run(["bash", "-euo", "pipefail", "-c", script], check=True, timeout=60)
    assert _count(db)[:2] == (backed_up, backed_up)

    restored = Service(db, tmp_path / "restored.log")
    try:
        status, page = restored.get("/api/metrics/request_logs?page_size=1", tokens.staff_viewer)  # accounts came back
        assert status == 200
        newest = page["results"][0]["id"]
        assert _post(restored.port, tokens.ingest_only, 9_000, 3) == 200
        status, page = restored.get("/api/metrics/request_logs?page_size=3", tokens.admin)
        assert [row["id"] for row in page["results"]] == [newest + 3, newest + 2, newest + 1]
    finally:
        assert restored.stop(signal.SIGTERM) == 0
    assert _count(db)[:2] == (backed_up + 3, backed_up + 3)


def _exported(tmp_path: Path, rows: list[RequestLog]) -> pa.Table:
    """`rows` stored in `source.duckdb`, then read back as the export stream carries them."""
    source = tmp_path / "source.duckdb"
    seed(source, rows)
    con = duckdb.connect(str(source), read_only=True)
    try:
        return con.sql("SELECT * EXCLUDE (span_key) FROM request_logs ORDER BY id").to_arrow_table()
    finally:
        con.close()


def test_a_backup_never_overwrites_and_a_short_stream_leaves_nothing(tmp_path: Path) -> None:
    table = _exported(tmp_path, [make_row(k) for k in range(5)])
    out = tmp_path / "copy.duckdb"
    with pytest.raises(BackupError, match="holds 4 rows, the service counted 5"):
        write_backup(table.slice(0, 4).to_batches(), out, expected_rows=5)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["source.duckdb"]
    summary = write_backup(table.to_batches(), out, expected_rows=5)
    assert summary.rows == 5 and _count(out) == (5, 5, 5)
    with pytest.raises(BackupError, match="exists"):
        write_backup(table.to_batches(), out, expected_rows=5)


def test_a_backup_keeps_long_bodies_whole_and_in_parts(tmp_path: Path) -> None:
    long_body = '"' + "é" * 40_000 + '"'  # past value_parts.INLINE_BYTES: stored in parts
    table = _exported(tmp_path, [make_row(1, body=long_body), make_row(2, body='{"short": true}')])
    out = tmp_path / "copy.duckdb"
    write_backup(table.to_batches(max_chunksize=1), out, expected_rows=2)
    con = duckdb.connect(str(out), read_only=True)
    try:
        assert con.execute("SELECT id, body FROM request_logs ORDER BY id").fetchall()[0] == (1, long_body)
        stored = con.execute(f"SELECT id, body IS NULL, body_parts IS NULL FROM {ROWS_TABLE} ORDER BY id").fetchall()
        assert stored == [(1, True, False), (2, False, True)]
    finally:
        con.close()
