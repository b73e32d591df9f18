"""The DRF and Flask examples under real gunicorn processes, as they are deployed.

In-process (one worker, straight into a DuckDB file): every row checked field by field, with the
user each DRF authentication class found (token, session, JWT), the URL pattern as the route, a
DRF 400 with its JSON body, a 401 whose body DRF never read, and a 500 with its traceback; once
under WSGI (sync worker) and once under ASGI (uvicorn worker), the same settings. Over OTLP to a
live `reqlog serve`: sync, gthread and uvicorn workers, several of each, `--preload`, SIGTERM,
SIGHUP reload and `max_requests` retirement; every request answered is a row, exactly once.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from exporter import RequestLogStore

from .gunicorn_harness import ROOT, clean_env, gunicorn, reqlog_service, sql, wait_for

FIREFOX = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:145.0) Gecko/20100101 Firefox/145.0"
WSGI = "examples.django_drf.wsgi:application"
ASGI = "examples.django_drf.asgi:application"
UVICORN_WORKER = ["-k", "uvicorn_worker.UvicornWorker"]


@pytest.fixture(scope="module")
def drf_db(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict[str, str]]:
    """The example's SQLite file, migrated, with user ada; her token and password."""
    db = tmp_path_factory.mktemp("drf") / "db.sqlite3"
    seeded = subprocess.run(
        [sys.executable, "-m", "examples.django_drf.seed"],
        cwd=ROOT,
        env=clean_env(DJANGO_DB=str(db)),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return str(db), json.loads(seeded.stdout)


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    with reqlog_service(tmp_path_factory.mktemp("service")) as found:
        yield found


def _drf_traffic(url: str, seed: dict[str, str]) -> list[int]:
    """One request per way of being (un)authenticated; the statuses the app answered."""
    token = {"Authorization": f"Token {seed['token']}"}
    statuses = []
    with httpx.Client(base_url=url, headers={"User-Agent": FIREFOX}, timeout=30) as client:
        statuses.append(client.get("/api/metrics/request_logs/1", headers=token).status_code)
        statuses.append(client.post("/api/orders/", json={"item": "tea", "quantity": 0}, headers=token).status_code)
        statuses.append(client.post("/api/orders/", json={"item": "tea", "quantity": 2}).status_code)
        jwt = client.post("/api/token/", json={"username": "ada", "password": seed["password"]}).json()["access"]
        statuses.append(
            client.get("/api/metrics/request_logs/2", headers={"Authorization": f"Bearer {jwt}"}).status_code
        )
        statuses.append(client.post("/login/", data={"username": "ada", "password": seed["password"]}).status_code)
        statuses.append(client.get("/api/metrics/request_logs/3").status_code)  # the session cookie
        statuses.append(client.get("/api/boom/", headers=token).status_code)
    return statuses


@pytest.mark.parametrize(("app", "args"), [(WSGI, []), (ASGI, UVICORN_WORKER)], ids=["wsgi-sync", "asgi-uvicorn"])
def test_drf_rows_in_process(app: str, args: list[str], drf_db: tuple[str, dict[str, str]], tmp_path: Path) -> None:
    db, seed = drf_db
    logs = tmp_path / "logs.duckdb"
    env = {"DJANGO_DB": db, "REQLOG_EXPORTER": "reqlog_duckdb", "REQLOG_DB": str(logs)}
    with gunicorn(app, ["--workers", "1", *args], env, tmp_path / "gunicorn.log") as server:
        assert _drf_traffic(server.url, seed) == [200, 400, 401, 200, 200, 200, 500]
        assert server.close() == 0  # SIGTERM: the worker flushes its batch as it exits
    store = RequestLogStore(logs)
    try:
        rows = (
            store.cursor()
            .execute(
                "SELECT endpoint, route, status_code, user_id, username, user_full_name, body, response,"
                " request_body_size, exception_type, exception_traceback, service_name, browser"
                " FROM request_logs ORDER BY started_at"
            )
            .fetchall()
        )
    finally:
        store.close()
    assert {(r[11], r[12]) for r in rows} == {("example-drf", "Firefox")}
    ada = ("1", "ada", "Ada Lovelace")
    got = [(r[0], r[1], r[2], tuple(r[3:6]), r[6] and json.loads(r[6]), r[8], r[9]) for r in rows]
    order = {"item": "tea", "quantity": 0}
    assert got[:3] == [
        ("/api/metrics/request_logs/1", "/api/metrics/request_logs/<int:pk>", 200, ada, None, None, None),
        ("/api/orders/", "/api/orders/", 400, ada, order, 27, None),
        ("/api/orders/", "/api/orders/", 401, (None, None, None), {"item": "tea", "quantity": 2}, 27, None),
    ]
    assert json.loads(rows[1][7]) == {"quantity": ["Ensure this value is greater than or equal to 1."]}
    assert json.loads(rows[2][7]) == {"detail": "Authentication credentials were not provided."}
    assert [(g[0], g[2], g[3]) for g in got[3:]] == [
        ("/api/token/", 200, (None, None, None)),
        ("/api/metrics/request_logs/2", 200, ada),  # JWT
        ("/login/", 200, ada),
        ("/api/metrics/request_logs/3", 200, ada),  # session
        ("/api/boom/", 500, ada),
    ]
    assert got[-1][6] == "RuntimeError" and 'raise RuntimeError("drf failure")' in rows[-1][10]


def _send(url: str, tag: str, count: int, token: str, start: int = 0) -> None:
    with httpx.Client(base_url=url, headers={"Authorization": f"Token {token}"}, timeout=30) as client:
        for i in range(start, start + count):
            assert client.get(f"/api/metrics/request_logs/{i}", params={"run": tag}).status_code == 200


def _stored(service: tuple[str, str], tag: str) -> tuple[int, int, list[Any]]:
    url, token = service
    found = sql(
        url,
        token,
        "SELECT count(*), count(DISTINCT endpoint), list(DISTINCT username) FROM request_logs"
        f" WHERE query_params LIKE '%\"{tag}\"%'",
    )
    count, distinct, users = found[0]
    return count, distinct, users


def _otlp_env(db: str, service: tuple[str, str]) -> dict[str, str]:
    url, token = service
    return {"DJANGO_DB": db, "REQLOG_EXPORTER": "otlp", "REQLOG_ENDPOINT": url, "REQLOG_TOKEN": token}


@pytest.mark.parametrize(
    ("tag", "app", "args"),
    [
        ("sync2", WSGI, ["--workers", "2"]),
        ("gthread2", WSGI, ["--workers", "2", "--worker-class", "gthread", "--threads", "4"]),
        ("uvicorn2", ASGI, ["--workers", "2", *UVICORN_WORKER]),
        ("preload2", WSGI, ["--workers", "2", "--preload"]),
    ],
)
def test_otlp_nothing_lost_on_sigterm(
    tag: str,
    app: str,
    args: list[str],
    drf_db: tuple[str, dict[str, str]],
    service: tuple[str, str],
    tmp_path: Path,
) -> None:
    db, seed = drf_db
    with gunicorn(app, args, _otlp_env(db, service), tmp_path / "gunicorn.log") as server:
        _send(server.url, tag, 40, seed["token"])
        # Well inside the BatchSpanProcessor's 5 s delay: only the exit flush can deliver these.
        assert server.close() == 0
    assert _stored(service, tag) == (40, 40, ["ada"])


def test_otlp_nothing_lost_on_sighup_reload(
    drf_db: tuple[str, dict[str, str]], service: tuple[str, str], tmp_path: Path
) -> None:
    db, seed = drf_db
    with gunicorn(WSGI, ["--workers", "2"], _otlp_env(db, service), tmp_path / "gunicorn.log") as server:
        wait_for(lambda: server.booted() == 2, what="two workers")
        _send(server.url, "hup", 20, seed["token"])
        server.process.send_signal(signal.SIGHUP)  # new workers boot, the old ones get SIGTERM
        wait_for(lambda: server.booted() == 4, what="two new workers")
        _send(server.url, "hup", 20, seed["token"], start=20)
        assert server.close() == 0
    assert _stored(service, "hup") == (40, 40, ["ada"])


def test_otlp_nothing_lost_when_workers_retire(
    drf_db: tuple[str, dict[str, str]], service: tuple[str, str], tmp_path: Path
) -> None:
    db, seed = drf_db
    args = ["--workers", "1", "--max-requests", "5"]
    with gunicorn(WSGI, args, _otlp_env(db, service), tmp_path / "gunicorn.log") as server:
        _send(server.url, "retire", 23, seed["token"])
        wait_for(lambda: server.booted() >= 5, what="retired workers replaced")
        assert server.close() == 0
    assert _stored(service, "retire") == (23, 23, ["ada"])


def _flask_traffic(url: str) -> None:
    with httpx.Client(base_url=url, headers={"User-Agent": FIREFOX}, timeout=30) as client:
        assert client.get("/").status_code == 200
        assert client.post("/items/4", json={"x": 1}).status_code == 401  # Flask-Login refuses, unread
        assert client.post("/login", data={"username": "ada", "password": "example-password"}).status_code == 200
        assert client.post("/items/4", json={"x": 1}).status_code == 200
        assert client.get("/boom").status_code == 500


FLASK_ROWS = [
    ("/", "/", 200, None, None, None),
    ("/items/4", "/items/<int:item_id>", 401, None, {"x": 1}, None),
    ("/login", "/login", 200, "ada", {"username": "ada", "password": "[REDACTED]"}, None),
    ("/items/4", "/items/<int:item_id>", 200, "ada", {"x": 1}, None),
    ("/boom", "/boom", 500, "ada", None, "RuntimeError"),  # the session cookie is still sent
]


def test_flask_example_in_process(tmp_path: Path) -> None:
    logs = tmp_path / "logs.duckdb"
    env = {"REQLOG_EXPORTER": "reqlog_duckdb", "REQLOG_DB": str(logs)}
    with gunicorn("examples.flask_app:app", ["--workers", "1"], env, tmp_path / "gunicorn.log") as server:
        _flask_traffic(server.url)
        assert server.close() == 0
    store = RequestLogStore(logs)
    try:
        rows = (
            store.cursor()
            .execute(
                "SELECT endpoint, route, status_code, username, body, exception_type, exception_traceback"
                " FROM request_logs ORDER BY started_at"
            )
            .fetchall()
        )
    finally:
        store.close()
    assert [(*r[:4], r[4] and json.loads(r[4]), r[5]) for r in rows] == FLASK_ROWS
    assert 'raise RuntimeError("flask failure")' in rows[-1][6]


def test_flask_example_over_otlp(service: tuple[str, str], tmp_path: Path) -> None:
    url, token = service
    env = {"REQLOG_EXPORTER": "otlp", "REQLOG_ENDPOINT": url, "REQLOG_TOKEN": token}
    with gunicorn("examples.flask_app:app", ["--workers", "2"], env, tmp_path / "gunicorn.log") as server:
        _flask_traffic(server.url)
        assert server.close() == 0
    rows = sql(
        url,
        token,
        "SELECT endpoint, route, status_code, username, body, exception_type FROM request_logs"
        " WHERE service_name = 'example-flask' ORDER BY started_at",
    )
    assert [tuple(r) for r in rows] == FLASK_ROWS
