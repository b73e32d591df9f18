"""Attack: rows of incompressible 1 MiB bodies (OTLP's own cap), then reading one of them back.

DuckDB reads even `WHERE id = ?` (an index scan on the primary key) a zstd vector of 2,048 rows at
a time: ~700 rows of two such bodies at the default 1 GB `REQLOG_MEMORY_LIMIT` made every retrieve
and list page over them answer 500. Scaled down: 100 rows against 32 MB (with the checkpoint
threshold scaled alike, 8 MB), through a real `reqlog serve`, after the restart that checkpoints
them. On the old code the retrieve and both list pages answered 500 (DuckDB out of memory). Now
they answer 200: a row DuckDB refuses is served with what it can read, each refused value replaced
by a flagged note (`exporter/store_unreadable.py`); with memory enough, the same rows read in full.
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


def test_rows_of_incompressible_1_mib_bodies_still_answer_retrieve_and_list(tmp_path: Path) -> None:
    db = tmp_path / "large.duckdb"
    tokens = make_accounts(db.with_name("accounts.sqlite3"))
    service = Service(db, tmp_path / "ingest.log", env={**SCALED, "REQLOG_MEMORY_LIMIT": "256MB"})
    try:
        for first in range(0, ROWS, PER_REQUEST):
            _send(service, tokens.ingest_only, first)
    finally:
        assert service.stop() == 0  # closing checkpoints: the rows are now in zstd segments
    service = Service(db, tmp_path / "read.log", env=SCALED)
    try:
        status, row = service.get(f"/api/metrics/request_logs/{ROWS // 2}", tokens.admin)
        assert status == 200, row
        assert row["endpoint"] == f"/upload/{ROWS // 2 - 1}" and row["method"] == "POST"
        assert row["body"] == NOTE and row["request_body_truncated"] is True
        assert row["response"] == NOTE and row["response_body_truncated"] is True
        status, page = service.get("/api/metrics/request_logs?page_size=5", tokens.admin)
        assert status == 200, page
        # A refused row ends its page (read the slow way, it is alone); the `next` link goes on.
        assert [r["id"] for r in page["results"]] == [100] and page["results"][0]["body"] == NOTE
        status, page = service.get(page["next"].split(f":{service.port}", 1)[1], tokens.admin)
        assert status == 200 and [r["id"] for r in page["results"]] == [99] and page["next"]
        assert "DuckDB refused the memory to read body, response" in service.stderr()
    finally:
        assert service.stop() == 0
    # The file still holds every value: with memory enough, the same row reads in full.
    service = Service(db, tmp_path / "roomy.log", env={**SCALED, "REQLOG_MEMORY_LIMIT": "512MB"})
    try:
        status, row = service.get(f"/api/metrics/request_logs/{ROWS // 2}", tokens.admin)
        assert status == 200 and len(row["body"]) == MIB and row["request_body_truncated"] is False
    finally:
        assert service.stop() == 0
