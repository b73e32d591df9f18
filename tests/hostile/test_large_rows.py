"""Attack: rows of incompressible 1 MiB bodies (OTLP's own cap), then reading one of them back.

DuckDB reads even `WHERE id = ?` (an index scan on the primary key) a zstd vector of 2,048 rows at
a time: ~700 rows of two such bodies at the default 1 GB `REQLOG_MEMORY_LIMIT` made every retrieve
and list page over them answer 500. Scaled down: 100 rows against 32 MB (with the checkpoint
threshold scaled alike, 8 MB), through a real `reqlog serve`, read after the restart
that checkpoints them. Before: the retrieve and both list pages answered 500 (DuckDB out of
memory); then 200 with a note in place of each body DuckDB refused. Now every body reads back
whole: long bodies are stored in parts (`exporter/value_parts.py`).
"""

from __future__ import annotations

import base64
import os
import urllib.request
from pathlib import Path

from exporter.store_unreadable import NOTE
from tests.otlp_payloads import pb_request, pb_span
from tests.query_api.harness import Service, auth, make_accounts

MIB = 1024 * 1024
ROWS, PER_REQUEST = 100, 10
# Every read from the file, none from the recent cache.
SCALED = {"REQLOG_MEMORY_LIMIT": "32MB", "REQLOG_CHECKPOINT_THRESHOLD": "8MB", "REQLOG_RECENT_CACHE_BYTES": "0"}


def _noise() -> str:
    return base64.b64encode(os.urandom(3 * MIB // 4)).decode()  # 1 MiB of text zstd cannot shrink


def _send(service: Service, token: str, first: int) -> None:
    spans = [
        pb_span(
            {
                "http.request.method": "POST",
                "url.path": f"/upload/{k}",
                "http.request.body.content": _noise(),
                "http.request.body.content_type": "text/plain",
                "http.response.body.content": _noise(),
                "http.response.body.content_type": "text/plain",
            },
            span_id=(k + 1).to_bytes(8, "big"),
        )
        for k in range(first, first + PER_REQUEST)
    ]
    request = urllib.request.Request(
        f"http://127.0.0.1:{service.port}/v1/traces",
        data=pb_request(spans).SerializeToString(),
        headers={"Content-Type": "application/x-protobuf", **auth(token)},
    )
    with urllib.request.urlopen(request, timeout=60) as answer:
        assert answer.status == 200


def test_rows_of_incompressible_1_mib_bodies_read_back_whole_within_a_small_memory_limit(tmp_path: Path) -> None:
    db = tmp_path / "large.duckdb"
    tokens = make_accounts(db.with_name("accounts.sqlite3"))
    # Ingest in 256 MB: a request of 10 such spans is 20 MB in flight, room the default 1 GB has.
    service = Service(db, tmp_path / "ingest.log", env={**SCALED, "REQLOG_MEMORY_LIMIT": "256MB"})
    try:
        for first in range(0, ROWS, PER_REQUEST):
            _send(service, tokens.ingest_only, first)
    finally:
        assert service.stop() == 0  # closing checkpoints: the rows are now in zstd segments
    service = Service(db, tmp_path / "read.log", env=SCALED)
    try:
        for request_id in (1, ROWS // 2, ROWS):
            status, row = service.get(f"/api/metrics/request_logs/{request_id}", tokens.admin)
            assert status == 200, row
            assert row["endpoint"] == f"/upload/{request_id - 1}" and row["method"] == "POST"
            assert len(row["body"]) == MIB and row["request_body_truncated"] is False
            assert len(row["response"]) == MIB and row["response_body_truncated"] is False
        status, page = service.get("/api/metrics/request_logs?page_size=5", tokens.admin)
        assert status == 200, page
        assert [r["id"] for r in page["results"]] == [100, 99, 98, 97, 96]
        assert all(r["body"] != NOTE and len(r["body"]) == MIB for r in page["results"])
        status, page = service.get(page["next"].split(f":{service.port}", 1)[1], tokens.admin)
        assert status == 200 and [r["id"] for r in page["results"]] == [95, 94, 93, 92, 91]
        assert "DuckDB refused" not in service.stderr()
    finally:
        assert service.stop() == 0
