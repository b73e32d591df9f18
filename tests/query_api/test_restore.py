"""The Parquet restore procedure of `docs/operations.md`, run step by step, then ingest into the result.

Before the store moved its id sequence on open, the restored file took no new row: the insert's id
clash was swallowed as if every span were a retry, the service answered 200 and counted the rows.
"""

from __future__ import annotations

import re
import signal
import urllib.request
from pathlib import Path

import duckdb

from exporter.schema import SPAN_KEY_SQL
from exporter.store import RequestLogStore
from query_api.housekeeping.export import export_from

from ..otlp_payloads import pb_request, pb_span
from .harness import Service, make_accounts, make_row, seed

DOCS = Path(__file__).resolve().parents[2] / "docs" / "operations.md"


def _restore_sql() -> str:
    text = DOCS.read_text()
    section = text[text.index("To load Parquet back") :]
    match = re.search(r"```sql\n(.*?)```", section, re.DOTALL)
    assert match is not None, "the restore procedure lost its SQL"
    return match.group(1)


def _post(service: Service, token: str, body: bytes) -> int:
    request = urllib.request.Request(
        f"http://127.0.0.1:{service.port}/v1/traces",
        data=body,
        headers={"Content-Type": "application/x-protobuf", "Authorization": f"Token {token}"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return int(response.status)


def test_the_documented_restore_then_ingest_keeps_every_row(tmp_path: Path) -> None:
    original = tmp_path / "original.duckdb"
    long_body = '"' + "é" * 40_000 + '"'  # 80 KB: kept in parts (`exporter/value_parts.py`)
    seed(original, [make_row(k, body=long_body if k == 7 else None) for k in range(40)])
    store = RequestLogStore(original)
    try:
        export_from(store, tmp_path / "backup")
    finally:
        store.close()

    restored = tmp_path / "restored.duckdb"
    tokens = make_accounts(tmp_path / "accounts.sqlite3")  # beside the file, where the service looks
    # Step 1: the service creates the empty database.
    first = Service(restored, tmp_path / "first.log")
    assert first.stop() == 0
    # Step 2: the documented SQL, pointed at this backup.
    sql = _restore_sql().replace("/backups/reqlog", str(tmp_path / "backup"))
    assert SPAN_KEY_SQL in " ".join(sql.split()), "the documented span key differs from the store's"
    con = duckdb.connect(str(restored))
    try:
        con.execute(sql)
        assert con.execute("SELECT count(*), max(id) FROM request_logs").fetchall() == [(40, 40)]
        # The long body is whole through the view, and in parts in the table, as the service keeps it.
        assert con.execute("SELECT body FROM request_logs WHERE id = 8").fetchall() == [(long_body,)]
        parted = "SELECT body IS NULL, len(body_parts), parts_bytes FROM request_log_rows WHERE id = 8"
        assert con.execute(parted).fetchall() == [(True, 3, len(long_body.encode()))]  # 40,002 characters
    finally:
        con.close()
    # Step 3: the service again, and new spans through OTLP.
    service = Service(restored, tmp_path / "second.log")
    try:
        attributes = {"http.request.method": "GET", "http.response.status_code": 200}
        spans = [
            pb_span({**attributes, "url.path": f"/new/{k}"}, span_id=bytes([9, k, 0, 0, 0, 0, 0, 1])) for k in range(5)
        ]
        assert _post(service, tokens.ingest_only, pb_request(spans).SerializeToString()) == 200
        status, body = service.get("/api/metrics/service", tokens.admin)
        assert status == 200
        assert body["ingest"]["rows"] == 5
        assert body["writer"]["rows_written"] == 5
        status, page = service.get("/api/metrics/request_logs?page_size=10", tokens.admin)
        assert [row["endpoint"] for row in page["results"][:5]] == [f"/new/{k}" for k in range(4, -1, -1)]
        assert [row["id"] for row in page["results"][:6]] == [45, 44, 43, 42, 41, 40]
    finally:
        assert service.stop(signal.SIGTERM) == 0
    con = duckdb.connect(str(restored), read_only=True)
    try:
        assert con.execute("SELECT count(*), count(DISTINCT id) FROM request_logs").fetchall() == [(45, 45)]
    finally:
        con.close()
