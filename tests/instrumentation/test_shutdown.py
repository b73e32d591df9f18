"""Stopping an instrumented app loses nothing: real servers as real processes, stopped with a signal.

Each test starts a server running `served_app` (or `served_django`) with `configure()` taking its
settings from the environment, sends N requests that all finish, signals the server, waits for it
to exit, and counts the rows: exactly N. The batch delay is set to a minute, so nothing leaves on
the processor's schedule: every row is there only because the app flushed while stopping.
Single-process servers write the DuckDB file in-process; multi-worker servers export over OTLP to a
real `reqlog serve`, stopped after the app so the file can be counted.
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from .processes import ROOT, Process, ReqlogService, clean_env, count_rows, free_port, get, ingest_token

REQUESTS = 20
QUIET = {"OTEL_BSP_SCHEDULE_DELAY": "60000", "REQLOG_EXCLUDED_URLS": "/ready$"}


@pytest.fixture
def service(tmp_path: Path) -> Iterator[tuple[ReqlogService, str]]:
    db = tmp_path / "service" / "reqlog.duckdb"
    token = ingest_token(db)
    running = ReqlogService(db, tmp_path / "serve.log")
    try:
        yield running, token
    finally:
        running.stop()


def _run(argv: list[str], port: int, env: Mapping[str, str], log: Path, sig: int) -> str:
    """Start the server, wait until it answers, send the requests, stop it with `sig`; its stderr."""
    return _stopped(argv, port, env, log, sig)[0]


def _stopped(argv: list[str], port: int, env: Mapping[str, str], log: Path, sig: int) -> tuple[str, int]:
    """As `_run`, with the server's exit status."""
    server = Process(argv, log, clean_env({**QUIET, **env}), ROOT)
    try:
        server.wait_http(port, "/ready")
        for n in range(REQUESTS):
            assert get(port, f"/items/{n}") == 200
    finally:
        status = server.stop(sig)
    return server.stderr(), status


def _in_process(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    db = tmp_path / "app.duckdb"
    return db, {"REQLOG_EXPORTER": "reqlog_duckdb", "REQLOG_DB": str(db)}


def _uvicorn(target: str, port: int, *extra: str) -> list[str]:
    return [sys.executable, "-m", "uvicorn", target, "--host", "127.0.0.1", "--port", str(port), *extra]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_uvicorn_one_worker(tmp_path: Path, sig: int) -> None:
    db, env = _in_process(tmp_path)
    port = free_port()
    log = _run(_uvicorn("tests.instrumentation.served_app:app", port), port, env, tmp_path / "app.log", sig)
    assert count_rows(db) == REQUESTS, log


def test_uvicorn_app_without_lifespan(tmp_path: Path) -> None:
    """An app that refuses lifespan scopes (as Django's does): the middleware speaks lifespan for it."""
    db, env = _in_process(tmp_path)
    port = free_port()
    log = _run(
        _uvicorn("tests.instrumentation.served_app:raw_app", port), port, env, tmp_path / "app.log", signal.SIGTERM
    )
    assert count_rows(db) == REQUESTS, log


def test_django_under_uvicorn(tmp_path: Path) -> None:
    db, env = _in_process(tmp_path)
    port = free_port()
    argv = _uvicorn("tests.instrumentation.served_django:app", port)
    log = _run(argv, port, env, tmp_path / "app.log", signal.SIGTERM)
    assert count_rows(db) == REQUESTS, log


def test_hypercorn(tmp_path: Path) -> None:
    db, env = _in_process(tmp_path)
    port = free_port()
    argv = [sys.executable, "-m", "hypercorn", "tests.instrumentation.served_app:app", "--bind", f"127.0.0.1:{port}"]
    log = _run(argv, port, env, tmp_path / "app.log", signal.SIGTERM)
    assert count_rows(db) == REQUESTS, log


def _over_otlp(tmp_path: Path, service: tuple[ReqlogService, str], argv: list[str], port: int) -> None:
    running, token = service
    env = {"REQLOG_ENDPOINT": running.url, "REQLOG_TOKEN": token}
    log = _run(argv, port, env, tmp_path / "app.log", signal.SIGTERM)
    assert running.stop() == 0, running.stderr()
    assert count_rows(running.db) == REQUESTS, log


def test_uvicorn_two_workers(tmp_path: Path, service: tuple[ReqlogService, str]) -> None:
    port = free_port()
    _over_otlp(tmp_path, service, _uvicorn("tests.instrumentation.served_app:app", port, "--workers", "2"), port)


@pytest.mark.parametrize("preload", [False, True], ids=["per-worker", "preload"])
def test_gunicorn_uvicorn_workers(tmp_path: Path, service: tuple[ReqlogService, str], preload: bool) -> None:
    """With `--preload` configure() runs once in the master and the workers inherit its provider."""
    port = free_port()
    argv = [
        sys.executable, "-m", "gunicorn", "tests.instrumentation.served_app:app", "--bind", f"127.0.0.1:{port}",
        "--workers", "2", "--worker-class", "uvicorn_worker.UvicornWorker", *(["--preload"] if preload else []),
    ]  # fmt: skip
    _over_otlp(tmp_path, service, argv, port)


def test_hypercorn_two_workers(tmp_path: Path, service: tuple[ReqlogService, str]) -> None:
    port = free_port()
    argv = [
        sys.executable, "-m", "hypercorn", "tests.instrumentation.served_app:app", "--bind", f"127.0.0.1:{port}",
        "--workers", "2",
    ]  # fmt: skip
    _over_otlp(tmp_path, service, argv, port)


def test_uvicorn_run_without_lifespan(tmp_path: Path) -> None:
    """`uvicorn.run(app, lifespan="off")` from a script: no shutdown event, the chained SIGTERM handler flushes."""
    db, env = _in_process(tmp_path)
    port = free_port()
    argv = [sys.executable, "-m", "tests.instrumentation.served_app", str(port)]
    log, status = _stopped(argv, port, env, tmp_path / "app.log", signal.SIGTERM)
    assert count_rows(db) == REQUESTS, log
    assert status == -signal.SIGTERM  # it still dies by the signal, as uvicorn meant it to
