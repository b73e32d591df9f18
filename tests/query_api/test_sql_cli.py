"""`reqlog sql`, `export`, `prune`: on a file, on a file another process holds, and through a live service."""

from __future__ import annotations

import asyncio
import io
import os
import pty
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pyarrow.dataset as ds
import pytest
from aiohttp.test_utils import TestClient

from exporter.row import RequestLog
from query_api import ServiceSettings
from query_api.cli import service_file
from query_api.cli.analysis import ProgressBar
from query_api.cli.main import main
from query_api.sql.output import cell_text, format_table

from ..hermetic import clean_environ
from .harness import TOKEN_LINE, Service, Tokens, seed
from .sqldata import make_row, service_store

N = 60
NOW = datetime.now(UTC).replace(tzinfo=None)


@pytest.fixture
def rows() -> list[RequestLog]:
    return [make_row(i) for i in range(N)]


@pytest.fixture
def local_db(db_path: Path) -> Path:
    with service_store(db_path, rows=N):
        pass
    return db_path


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_sql_on_the_file_prints_an_aligned_table(local_db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sql = "SELECT route, count(*) AS requests, NULL AS nothing FROM request_logs GROUP BY route ORDER BY route"
    code, out, err = _run(capsys, "sql", "--db", str(local_db), sql)
    assert code == 0, err
    assert out.splitlines() == [
        " route       | requests | nothing",
        "-------------+----------+---------",
        " /health     |       20 | NULL",
        " /orders     |       20 | NULL",
        " /users/{id} |       20 | NULL",
        "(3 rows)",
    ]


def test_sql_csv_and_json(local_db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sql = "SELECT id, started_at, request_headers FROM request_logs ORDER BY id LIMIT 2"
    code, out, _ = _run(capsys, "sql", "--db", str(local_db), "--format", "csv", sql)
    assert code == 0
    assert out.splitlines()[:2] == [
        "id,started_at,request_headers",
        '1,2025-11-19T14:00:00.123456Z,"{""User-Agent"":""Firefox"",""Accept"":""*/*""}"',
    ]
    code, out, _ = _run(capsys, "sql", "--db", str(local_db), "--format", "json", sql)
    assert orjson.loads(out)["rows"][0] == [
        1,
        "2025-11-19T14:00:00.123456Z",
        {"User-Agent": "Firefox", "Accept": "*/*"},
    ]


def test_sql_on_the_file_is_sandboxed_and_capped(local_db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(capsys, "sql", "--db", str(local_db), "DELETE FROM request_logs")
    assert code == 1
    assert "Only read-only queries" in err
    code, _, err = _run(capsys, "sql", "--db", str(local_db), "SELECT * FROM read_text('/etc/passwd')")
    assert code == 1 and "file and network access is not allowed" in err
    code, out, err = _run(capsys, "sql", "--db", str(local_db), "--max-rows", "5", "SELECT id FROM request_logs")
    assert code == 0 and "(5 rows)" in out and "only the first 5 rows" in err


def test_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(capsys, "sql", "--db", str(tmp_path / "none.duckdb"), "SELECT 1")
    assert code == 1 and "no database at" in err


@pytest.fixture
def held(local_db: Path) -> Iterator[subprocess.Popen[str]]:
    """Another process holding the file read-write, as a running service does."""
    script = textwrap.dedent(
        f"""
        import sys
        from exporter.store import SERVICE_DUCKDB_CONFIG, RequestLogStore
        store = RequestLogStore({str(local_db)!r}, config=SERVICE_DUCKDB_CONFIG)
        print("ready", flush=True)
        sys.stdin.read()
        store.close()
        """
    )
    process = subprocess.Popen(
        [sys.executable, "-c", script],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path.cwd(),
        env=clean_environ(),
    )
    assert process.stdout is not None and process.stdout.readline().strip() == "ready"
    yield process
    assert process.stdin is not None
    process.stdin.close()
    process.wait(30)
    process.stdout.close()


@pytest.mark.parametrize(
    ("argv", "hint"),
    [
        (["sql", "SELECT 1"], 'reqlog sql "SELECT 1" --url http://127.0.0.1:8000 --token $REQLOG_TOKEN'),
        (["export", "--out", "x", "--since", "2025-11-19"], "reqlog export --out x --since 2025-11-19 --url"),
        (["prune", "--older-than", "30d"], "reqlog prune --older-than 30d --url"),
    ],
)
def test_a_held_file_is_explained(
    local_db: Path, held: subprocess.Popen[str], capsys: pytest.CaptureFixture[str], argv: list[str], hint: str
) -> None:
    code, out, err = _run(capsys, *argv[:1], "--db", str(local_db), *argv[1:])
    assert code == 1
    assert out == ""
    assert f"{local_db} is held by another process (PID {held.pid})" in err
    assert hint in err


def test_export_from_the_file(local_db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(
        capsys, "export", "--db", str(local_db), "--out", str(tmp_path / "out"), "--until", "2025-11-19"
    )
    assert code == 0, err
    table = ds.dataset(tmp_path / "out", partitioning="hive").to_table()
    expected = sum(1 for i in range(N) if make_row(i).started_at.date().isoformat() <= "2025-11-19")  # type: ignore[union-attr]
    assert table.num_rows == expected
    assert f"exported {expected} rows into 1 day file(s)" in err


def _aged(db_path: Path) -> None:
    with service_store(db_path) as store:
        store.insert_rows(
            [make_row(i, started_at=NOW - timedelta(days=40 - i) + timedelta(hours=12)) for i in range(20)]
        )


def _count(db_path: Path) -> int:
    with service_store(db_path) as store:
        return store.count()


def test_prune_the_file(db_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _aged(db_path)
    code, _, err = _run(capsys, "prune", "--db", str(db_path), "--older-than", "30d", "--dry-run")
    oldest = (NOW - timedelta(days=40) + timedelta(hours=12)).isoformat()
    assert code == 0 and "would delete 10 rows, started " in err and oldest in err, err
    assert _count(db_path) == 20
    # Off a terminal (pytest's stdin is not one) nobody can confirm: refused without --yes, nothing deleted.
    code, _, err = _run(capsys, "prune", "--db", str(db_path), "--older-than", "30d")
    assert code == 2 and "add --yes" in err and "10 rows" in err
    assert _count(db_path) == 20
    code, _, err = _run(capsys, "prune", "--db", str(db_path), "--older-than", "30d", "--yes", "--compact")
    assert code == 0 and "deleted 10 rows" in err and "compacted" in err
    with service_store(db_path) as store:
        assert store.count() == 10
        assert store.cursor().execute(
            "SELECT min(started_at) >= ? FROM request_logs", [NOW - timedelta(days=30)]
        ).fetchall() == [(True,)]


@pytest.mark.parametrize(("answer", "left"), [("y\n", 10), ("n\n", 20), ("\n", 20)])
def test_prune_asks_on_a_terminal(db_path: Path, answer: str, left: int) -> None:
    _aged(db_path)
    controller, terminal = pty.openpty()
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "query_api.cli", "prune", "--db", str(db_path), "--older-than", "30d"],
            stdin=terminal,
            stderr=subprocess.PIPE,
            text=True,
            env=clean_environ(),
        )
        os.write(controller, answer.encode())
        _, err = process.communicate(timeout=60)
    finally:
        os.close(controller)
        os.close(terminal)
    assert "Delete 10 rows, started " in err and "[y/N]" in err
    assert process.returncode == (0 if left == 10 else 2)
    assert _count(db_path) == left


@pytest.mark.parametrize("command", ["sql", "export", "prune"])
def test_an_explicit_db_wins_over_reqlog_url(
    local_db: Path, tmp_path: Path, command: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Port 9 (discard) has no reqlog: before the fix every command went there and failed ("cannot reach").
    monkeypatch.setenv("REQLOG_URL", "http://127.0.0.1:9/")
    monkeypatch.setenv("REQLOG_TOKEN", "not-a-token")
    argv = {
        "sql": ["sql", "SELECT count(*) AS n FROM request_logs"],
        "export": ["export", "--out", str(tmp_path / "out")],
        "prune": ["prune", "--older-than", "1d", "--yes"],
    }[command]
    code, out, err = _run(capsys, *argv, "--db", str(local_db))
    assert code == 0, err
    assert "cannot reach" not in err
    if command == "prune":
        assert f"deleted {N} rows" in err and _count(local_db) == 0
    elif command == "sql":
        assert out.splitlines()[2] == f" {N}"


async def test_prune_db_never_deletes_from_the_service_in_reqlog_url(
    api_client: TestClient[Any, Any],
    tokens: Tokens,
    settings: ServiceSettings,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The attack of the issue: REQLOG_URL names a live service, --db names another file.
    other = tmp_path / "other" / "logs.duckdb"
    _aged(other)
    monkeypatch.setenv("REQLOG_URL", str(api_client.make_url("")).rstrip("/"))
    monkeypatch.setenv("REQLOG_TOKEN", tokens.admin)
    code = await asyncio.to_thread(main, ["prune", "--db", str(other), "--older-than", "30d", "--yes"])
    assert code == 0, capsys.readouterr().err
    assert _count(other) == 10
    answer = await api_client.post(
        "/api/metrics/sql",
        json={"sql": "SELECT count(*) FROM request_logs"},
        headers={"Authorization": f"Token {tokens.admin}"},
    )
    assert (await answer.json())["rows"] == [[N]]  # the service's rows are all there


def test_db_and_url_together_are_refused(local_db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(capsys, "prune", "--db", str(local_db), "--url", "http://127.0.0.1:9", "--older-than", "1d")
    assert code == 2 and "not both" in err


@pytest.mark.parametrize("age", ["6m", "6M", "3 mon", "10s", "36501d", "999999999999999d"])
def test_ambiguous_or_absurd_ages_are_refused(local_db: Path, age: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["prune", "--db", str(local_db), "--older-than", age, "--yes"])
    assert caught.value.code == 2
    err = capsys.readouterr().err
    assert ("units: min (minutes)" in err and "mo (30-day months)" in err) or "longest age allowed" in err
    assert _count(local_db) == N


def test_bad_age_is_a_usage_error(local_db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["prune", "--db", str(local_db), "--older-than", "soon"])
    assert caught.value.code == 2
    assert "expected an age such as 30d" in capsys.readouterr().err


async def test_through_the_service(
    api_client: TestClient[Any, Any],
    tokens: Tokens,
    settings: ServiceSettings,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url = str(api_client.make_url("")).rstrip("/")

    async def run(*argv: str) -> tuple[int, str, str]:
        code = await asyncio.to_thread(main, list(argv))
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    code, out, err = await run(
        "sql", "--url", url, "--token", tokens.ingest_only, "SELECT count(*) AS n FROM request_logs"
    )
    assert code == 0, err
    assert out.splitlines() == ["  n", "----", " 60", "(1 row)"]
    code, _, err = await run("sql", "--url", url, "--token", tokens.ingest_only, "ATTACH 'x.db'")
    assert code == 1 and "the service answered 400: ATTACH is not allowed" in err
    code, _, err = await run("sql", "--url", url, "--token", tokens.staff_viewer, "SELECT 1")
    assert code == 1 and "403: You do not have permission to perform this action." in err
    code, _, err = await run("sql", "--url", url, "SELECT 1")
    assert code == 1 and "a token is needed" in err

    code, _, err = await run("export", "--url", url, "--token", tokens.admin, "--out", str(tmp_path / "remote"))
    assert code == 0, err
    assert ds.dataset(tmp_path / "remote", partitioning="hive").to_table().num_rows == N

    code, _, err = await run("prune", "--url", url, "--token", tokens.ingest_only, "--older-than", "30d")
    assert code == 1 and "403" in err  # pruning by hand is for admins
    code, _, err = await run("prune", "--url", url, "--token", tokens.admin, "--older-than", "30d", "--dry-run")
    assert code == 0 and f"would delete {N} rows, started 2025-11-19T14:00:00.123456Z to " in err
    code, _, err = await run("prune", "--url", url, "--token", tokens.admin, "--older-than", "30d")
    assert code == 2 and "add --yes" in err
    code, out, _ = await run("sql", "--url", url, "--token", tokens.admin, "SELECT count(*) AS n FROM request_logs")
    assert out.splitlines()[2] == f" {N}"  # neither the dry run nor the refusal deleted anything
    code, _, err = await run("prune", "--url", url, "--token", tokens.admin, "--older-than", "30d", "--yes")
    assert code == 0 and f"deleted {N} rows" in err  # the seeded rows are from 2025


def test_progress_bar_draws_only_on_a_terminal() -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    terminal, pipe = Terminal(), io.StringIO()
    for stream in (terminal, pipe):
        bar = ProgressBar(stream, width=10)
        bar.update(50, 200)
        bar.update(200, 200)
        bar.done()
    assert terminal.getvalue() == "\r[##........]  25% 50/200 rows\r[##########] 100% 200/200 rows\n"
    assert pipe.getvalue() == ""


def test_table_cells_and_fitting() -> None:
    assert [cell_text(v) for v in (None, True, 0.09409999999999999, 3.0, 1e-7, {"a": [1]}, "two\nlines")] == [
        "NULL",
        "true",
        "0.0941",
        "3",
        "1e-07",
        '{"a":[1]}',
        "two↵lines",
    ]
    wide = format_table(["id", "headers"], [[1, {"User-Agent": "x" * 200}]], width=40)
    lines = wide.splitlines()
    assert all(len(line) <= 40 for line in lines)
    assert lines[2].endswith("…")
    assert format_table(["n"], []) == " n\n---\n(0 rows)\n"


def test_a_running_service_is_named_and_its_url_works(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "data" / "reqlog.duckdb"
    seed(db, [make_row(i) for i in range(5)])
    service = Service(db, tmp_path / "serve.log")
    try:
        code, _, err = _run(capsys, "sql", "--db", str(db), "SELECT count(*) FROM request_logs")
        assert code == 1
        assert f"is held by another process (PID {service.process.pid}), most likely a running `reqlog serve`" in err
        url = f"http://127.0.0.1:{service.port}"
        assert f"--url {url} " in err  # the port it really serves on, which $REQLOG_PORT does not say
        token = TOKEN_LINE.findall(service.stdout())[0]
        code, out, err = _run(capsys, "sql", "--url", url, "--token", token, "SELECT count(*) AS n FROM request_logs")
        assert code == 0, err
        assert out.splitlines()[2] == " 5"
    finally:
        service.stop(signal.SIGTERM)
    assert not service_file.path_for(db).exists()  # a clean stop removes the record


def test_a_service_record_counts_only_for_the_process_holding_the_file(tmp_path: Path) -> None:
    db = tmp_path / "reqlog.duckdb"
    assert service_file.read(db, pid=None) is None
    service_file.write(db, "http://127.0.0.1:9123")
    assert service_file.read(db, pid=os.getpid()) == "http://127.0.0.1:9123"
    assert service_file.read(db, pid=os.getpid() + 1) is None  # left by a killed service: ignored
    service_file.path_for(db).write_text("not json")
    assert service_file.read(db, pid=None) is None
    service_file.write(db, "http://127.0.0.1:9123")
    service_file.remove(db)
    assert not service_file.path_for(db).exists()
