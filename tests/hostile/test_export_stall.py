"""Attack: downloads whose client never reads, to hold every SQL slot (before: SQL and stats answered 429)."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient

from query_api import ServiceSettings, create_app
from tests.query_api.harness import make_accounts, make_row, seed


async def test_stalled_exports_cannot_hold_the_sql_slots(aiohttp_client: Any, db_path: Path) -> None:
    # Enough bytes (~24 MB) that the socket buffers fill and the server's writes wait on the reader.
    seed(db_path, [make_row(i, response='"' + "x" * 4000 + '"') for i in range(6000)])
    settings = ServiceSettings.from_env({}, db=db_path, port=0, sql_stall_timeout=1.0, sql_timeout=3.0)
    tokens = make_accounts(settings.accounts_path)
    client: TestClient[Any, Any] = await aiohttp_client(create_app(settings))
    stalled = []
    for _ in range(2):  # SQL_THREADS: every slot
        sock = socket.create_connection((client.host, client.port))
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        head = f"GET /api/metrics/request_logs/export HTTP/1.1\r\nHost: x\r\nAuthorization: Token {tokens.admin}\r\n"
        sock.sendall((head + "\r\n").encode())
        stalled.append(sock)  # and never read
    await asyncio.sleep(0.5)
    try:
        answer = await client.post(
            "/api/metrics/sql",
            json={"sql": "SELECT count(*) FROM request_logs"},
            headers={"Authorization": f"Token {tokens.admin}"},
        )
        assert answer.status == 200, await answer.text()
        assert (await answer.json())["rows"] == [[6000]]
    finally:
        for sock in stalled:
            sock.close()
