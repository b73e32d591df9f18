"""The same rows and callers in reqlog and in the DRF reference, both serving on loopback ports.

Rows are written to reqlog through its store (which assigns ids and timestamps) and then copied,
ids and timestamps included, into the reference's data file. The callers are created in reqlog's
accounts database and copied with their tokens (in clear, as DRF keeps them) and their rights.
reqlog runs in this process on a thread of its own; the reference in a child process.
"""

from __future__ import annotations

import asyncio
import dataclasses
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
from aiohttp import web

from exporter.row import COLUMN_NAMES, JSON_COLUMNS, RequestLog
from exporter.store import RequestLogStore
from query_api import ServiceSettings, create_app
from query_api.accounts.db import AccountDB
from query_api.auth import PERM_INGEST, PERM_VIEW_LOGS

REPO = Path(__file__).resolve().parents[2]
START_TIMEOUT = 60.0
BASE = datetime(2025, 11, 19, 14, 55, 32, 673075)


@dataclasses.dataclass(frozen=True)
class RowUser:
    id: int
    username: str
    first_name: str = ""
    last_name: str = ""


DJANGO = RowUser(7, "django", "Django", "Reinhardt")
NAMELESS = RowUser(8, "nameless")  # no first or last name: Django's get_full_name() is ""


def _row(index: int, user: RowUser | None = None, **overrides: Any) -> RequestLog:
    started = BASE + timedelta(seconds=index, microseconds=index * 1011)
    duration = 0.004 + index * 0.0125
    values: dict[str, Any] = {
        "ip": "127.0.0.1",
        "device": "Other",
        "device_type": "pc",
        "os": "Windows",
        "browser": "Firefox",
        "scheme": "http",
        "endpoint": f"/shop/items/{index}",
        "method": "GET",
        "status_code": 200,
        "started_at": started,
        "finished_at": started + timedelta(seconds=round(duration, 6)),
        "duration": round(duration, 6),
        "query_params": "{}",
        "request_headers": orjson.dumps({"Host": "shop.example", "User-Agent": "Mozilla/5.0"}).decode(),
        "response_headers": orjson.dumps({"Content-Type": "application/json"}).decode(),
        "response": orjson.dumps({"index": index, "name": "caf\u00e9 \u2603"}).decode(),
        "trace_id": f"{index + 0xABC:032x}",
        "span_id": f"{index + 1:016x}",
        "service_name": "shop",
        "route": "/shop/items/{id}",
    }
    if user is not None:
        full_name = f"{user.first_name} {user.last_name}".strip() or None
        values.update(user_id=str(user.id), username=user.username, user_full_name=full_name)
    values.update(overrides)
    return RequestLog(**values)


def reference_rows() -> list[RequestLog]:
    """Rows of every kind the API distinguishes (ids 1.. in this order)."""
    return [
        _row(0),
        _row(1, DJANGO, method="POST", status_code=201, endpoint="/shop/orders", route="/shop/orders",
             body='{"sku":"A-1","qty":2}', service_name="checkout"),
        _row(2, NAMELESS, status_code=404, is_bot=True, device_type="other", browser="curl", ip="2001:db8::1"),
        _row(3, DJANGO, status_code=500, exception_type="ValueError", exception_message="bad quantity",
             exception_traceback='Traceback (most recent call last):\n  File "shop.py", line 1\nValueError: bad',
             endpoint="/shop/orders/7", route="/shop/orders/{id}", service_name="checkout"),
        _row(4, device_type="mobile", status_code=302, endpoint="/Admin/login", route=None, query_params=None,
             response=None, request_headers=None, response_headers=None),
        _row(5, NAMELESS, status_code=503, exception_type="TimeoutError", exception_message="upstream",
             method="DELETE", service_name="checkout"),
        _row(6, body=orjson.dumps('{"sku": "trunc').decode(), request_body_truncated=True, request_body_size=70000),
        _row(7, status_code=204, response=None, method="PUT",
             exception_message="line\u2028separator\u2029paragraph"),
    ] + [_row(i, DJANGO if i % 3 == 0 else None, status_code=200 + i % 2) for i in range(8, 20)]  # fmt: skip


@dataclasses.dataclass(frozen=True)
class Caller:
    """An API caller, the same in both systems."""

    username: str
    is_staff: bool = False
    is_superuser: bool = False
    is_active: bool = True
    perm_3601: bool = False
    other_perms: tuple[int, ...] = ()
    first_name: str = ""
    last_name: str = ""


CALLERS = {
    "admin": Caller("root", is_staff=True, is_superuser=True, first_name="Root"),
    "admin_not_staff": Caller("boss", is_superuser=True),
    "staff_3601": Caller("alice", is_staff=True, perm_3601=True, first_name="Alice"),
    "staff": Caller("bob", is_staff=True),
    "not_staff_3601": Caller("carol", perm_3601=True),
    "inactive_staff_3601": Caller("dave", is_staff=True, perm_3601=True, is_active=False),
    "inactive_admin": Caller("eve", is_superuser=True, is_active=False),
    "staff_ingest": Caller("erin", is_staff=True, other_perms=(PERM_INGEST,)),
}


def make_callers(accounts_path: Path) -> tuple[dict[str, str], list[dict[str, Any]]]:
    """Create `CALLERS` in reqlog; return their tokens by kind and the reference's user records."""
    tokens: dict[str, str] = {}
    users: list[dict[str, Any]] = []
    with AccountDB(accounts_path) as db:
        for number, (kind, caller) in enumerate(CALLERS.items(), start=101):
            perms = [*([PERM_VIEW_LOGS] if caller.perm_3601 else []), *caller.other_perms]
            full_name = f"{caller.first_name} {caller.last_name}".strip()
            db.create_account(caller.username, full_name=full_name, is_staff=caller.is_staff,
                              is_superuser=caller.is_superuser, permissions=perms)  # fmt: skip
            tokens[kind] = db.create_token(caller.username)
            if not caller.is_active:
                db.set_active(caller.username, False)
            users.append({**dataclasses.asdict(caller), "id": number, "token": tokens[kind]})
    for user in users:
        user.pop("other_perms")
    return tokens, users


def _reference_value(name: str, value: Any) -> Any:
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC).isoformat()
    if name in JSON_COLUMNS and value is not None:
        return orjson.loads(value)
    return value


def reference_data(stored: list[tuple[Any, ...]], users: list[dict[str, Any]]) -> dict[str, Any]:
    """The reference's data file: reqlog's stored rows with their ids and timestamps, and the users."""
    rows = []
    for values in stored:
        record = {name: _reference_value(name, v) for name, v in zip(COLUMN_NAMES, values, strict=True)}
        user_id = record.pop("user_id")
        record.pop("username")
        record.pop("user_full_name")
        record["user_id"] = int(user_id) if user_id is not None else None
        rows.append(record)
    row_users = [dataclasses.asdict(u) for u in (DJANGO, NAMELESS)]
    return {"users": row_users + users, "rows": rows}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ReqlogThread:
    """The reqlog service, `create_app(settings)` on a loopback port, on its own event loop thread."""

    def __init__(self, settings: ServiceSettings) -> None:
        self._loop = asyncio.new_event_loop()
        self._runner = web.AppRunner(create_app(settings), shutdown_timeout=5)
        self._thread = threading.Thread(target=self._loop.run_forever, name="reqlog-service", daemon=True)
        self._thread.start()
        self.port = asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(START_TIMEOUT)

    async def _start(self) -> int:
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None and server.sockets
        return int(server.sockets[0].getsockname()[1])

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(START_TIMEOUT)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(START_TIMEOUT)
        self._loop.close()


class ReferenceProcess:
    """The DRF reference (`server.py`) in a child process, on a free loopback port."""

    def __init__(self, data: dict[str, Any], workdir: Path) -> None:
        data_path = workdir / "reference.json"
        data_path.write_bytes(orjson.dumps(data))
        self.port = free_port()
        self._log = (workdir / "reference.log").open("w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.drf_reference.server", str(data_path), str(self.port)],
            cwd=REPO,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO)},
        )
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            assert self.process.poll() is None, (workdir / "reference.log").read_text()
            try:
                httpx.get(f"http://127.0.0.1:{self.port}/api/metrics/request_logs", timeout=5)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the DRF reference did not start"
                time.sleep(0.1)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        finally:
            self._log.close()


@dataclasses.dataclass
class Pair:
    """Both services over the same data."""

    reqlog: str
    drf: str
    tokens: dict[str, str]
    stored: list[tuple[Any, ...]]


def start_pair(workdir: Path) -> Iterator[Pair]:
    """Seed reqlog, copy into the reference, start both; yield them; stop both."""
    settings = ServiceSettings.from_env({}, db=workdir / "logs.duckdb", port=0, warm_cache=False)
    store = RequestLogStore(settings.db)
    try:
        stored = store.insert_rows(reference_rows())
    finally:
        store.close()
    tokens, users = make_callers(settings.accounts_path)
    reference = ReferenceProcess(reference_data(stored, users), workdir)
    try:
        service = ReqlogThread(settings)
        try:
            yield Pair(f"http://127.0.0.1:{service.port}", f"http://127.0.0.1:{reference.port}", tokens, stored)
        finally:
            service.stop()
    finally:
        reference.stop()
