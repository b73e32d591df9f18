"""Bodies the app never read, through real servers: gunicorn's sync worker (WSGI) and its uvicorn
worker (ASGI, where the server drops the body once the response is complete). Each early answer is
stored with the body's prefix (`max_body_bytes`) and its real size, and the client got the answer.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from exporter import RequestLogStore

from .gunicorn_harness import gunicorn

SERVERS = [
    ("tests.early_answer_apps:wsgi_app", []),
    ("tests.early_answer_apps:asgi_app", ["-k", "uvicorn_worker.UvicornWorker"]),
]


@pytest.mark.parametrize(("app", "args"), SERVERS, ids=["wsgi-sync", "asgi-uvicorn"])
def test_early_answers_keep_their_bodies(app: str, args: list[str], tmp_path: Path) -> None:
    logs = tmp_path / "logs.duckdb"
    env = {"REQLOG_EXPORTER": "reqlog_duckdb", "REQLOG_DB": str(logs), "REQLOG_MAX_BODY_BYTES": "1000"}
    big = b"z" * 1_000_000
    with gunicorn(app, ["--workers", "1", *args], env, tmp_path / "gunicorn.log") as server:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            denied = client.post("/deny", json={"user": "ada", "note": "hello"})
            refused = client.post("/too-large", content=big, headers={"Content-Type": "text/plain"})
            missing = client.post("/nowhere", data={"a": "1"})
        assert [denied.status_code, refused.status_code, missing.status_code] == [401, 413, 404]
        assert server.close() == 0
    store = RequestLogStore(logs)
    try:
        rows = (
            store.cursor()
            .execute(
                "SELECT endpoint, status_code, body, request_body_size, request_body_truncated"
                " FROM request_logs ORDER BY started_at"
            )
            .fetchall()
        )
    finally:
        store.close()
    assert rows == [
        ("/deny", 401, '{"user":"ada","note":"hello"}', 29, False),
        ("/too-large", 413, '"' + "z" * 1000 + '"', 1_000_000, True),
        ("/nowhere", 404, '{"a":"1"}', 3, False),
    ]
