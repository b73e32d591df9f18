"""A real `reqlog serve` on a temporary database, filled through real OTLP ingest, for the viewer's tests."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from query_api import ServiceSettings
from query_api.accounts.db import AccountDB
from query_api.auth import PERM_INGEST, PERM_SQL, PERM_VIEW_LOGS
from query_api.ui.passwords import hash_password
from tests.query_api.harness import Service, Tokens, make_accounts

from . import data

PASSWORD = "correct horse battery"
TRACE_URL = "https://traces.example/trace/{trace_id}?span={span_id}"
ORDINARY_ROWS = 30


@pytest.fixture
def settings(db_path: Path) -> ServiceSettings:
    """Service settings on `db_path` (accounts beside it), for an in-process app."""
    return ServiceSettings.from_env({}, db=db_path, port=0)


@pytest.fixture
def tokens(settings: ServiceSettings) -> Tokens:
    return make_accounts(settings.accounts_path)


@dataclasses.dataclass
class Running:
    service: Service
    admin_token: str
    viewer_token: str  # staff with 3601, no SQL
    ingest_token: str

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.service.port}"

    def wait_for_rows(self, count: int) -> None:
        """Until the list API holds `count` rows (ingest writes in the background), at most 20 s."""
        deadline = time.monotonic() + 20
        while True:
            status, page = self.service.get("/api/metrics/request_logs?page_size=500", self.admin_token)
            if status == 200 and len(page["results"]) >= count:
                return
            assert time.monotonic() < deadline, f"only {len(page['results']) if page else 0} of {count} rows arrived"
            time.sleep(0.05)


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    folder: Path = tmp_path_factory.mktemp("viewer")
    db = folder / "reqlog.duckdb"
    with AccountDB(folder / "accounts.sqlite3") as accounts:
        accounts.create_account("root", full_name="Root", is_staff=True, is_superuser=True)
        accounts.create_account("alice", is_staff=True, permissions=[PERM_VIEW_LOGS])
        accounts.create_account("shipper", permissions=[PERM_INGEST, PERM_SQL])
        accounts.set_password("root", hash_password(PASSWORD))
        accounts.set_password("alice", hash_password(PASSWORD))
        tokens = [accounts.create_token(name) for name in ("root", "alice", "shipper")]
    # Decoding in a thread of the service: no worker process to spawn for 32 spans.
    environment = {"REQLOG_TRACE_URL": TRACE_URL, "REQLOG_WARM_CACHE": "0", "REQLOG_INGEST_WORKERS": "0"}
    service = Service(db, folder / "service.log", env=environment)
    try:
        run = Running(service, *tokens)
        now = data.now_ns()
        data.send(service.port, run.ingest_token, [data.ordinary(i, now) for i in range(ORDINARY_ROWS)])
        data.send(service.port, run.ingest_token, [data.hostile(now)], service=data.IMG + "shop")
        run.wait_for_rows(ORDINARY_ROWS + 1)
        yield run
    finally:
        service.stop()
