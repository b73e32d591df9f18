"""The viewer's server time: list and detail pages at 1M rows, the dashboard's queries at 10M.

Rows come from `bench.analytics`'s generator (30 days of realistic traffic, the real schema). The
service runs in this process on a loopback port (`create_app`, the recent cache off so every detail
reads the store); requests go one at a time, signed in through the sign-in form with a token, and
each is timed from send to the last byte. The same run measures the JSON API's list and retrieve as
the baseline; and, in turns, the dashboard's 30-day SQL against what it replaced (exact percentiles
of every time bucket and every route) and DuckDB's t-digest, with the worst error of the series'
percentiles against exact nearest rank.

Goals (issue 16): list and detail p50 <= 50 ms at 1M rows; dashboard <= 1 s at 10M rows.
`python -m bench ui`; REQLOG_BENCH_QUICK=1 runs 100k and 1M rows.
"""

from __future__ import annotations

import asyncio
import random
import re
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from bench.analytics import _build
from bench.common import QUICK, median, percentile, report
from exporter.analytics import ERROR_CONDITION, dashboard_query, stats_query, timeseries_query
from exporter.latency_histogram import ERROR
from exporter.store import RequestLogStore
from query_api import ServiceSettings, create_app
from query_api.accounts.db import AccountDB

LIST_ROWS, DASHBOARD_ROWS = (100_000, 1_000_000) if QUICK else (1_000_000, 10_000_000)
ROUNDS = 30  # requests per page kind (each a different id or filter value where it matters)
DASHBOARD_ROUNDS = 5
MONTH = "range=custom&started_after=2025-11-01T00:00&started_before=2025-12-01T00:00"
DAY = "range=custom&started_after=2025-11-15T00:00&started_before=2025-11-16T00:00"


async def _serve(db: Path, port_holder: list[int]) -> web.AppRunner:
    settings = ServiceSettings.from_env({}, db=db, port=0, recent_cache_bytes=0, warm_cache=False)
    runner = web.AppRunner(create_app(settings), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port_holder.append(runner.addresses[0][1])
    return runner


async def _signed_in(base: str, token: str) -> aiohttp.ClientSession:
    session = aiohttp.ClientSession(base, cookie_jar=aiohttp.CookieJar(unsafe=True))
    form = await (await session.get("/ui/login")).text()
    csrf = re.search(r'name="csrf" value="([^"]+)"', form)
    assert csrf is not None
    answer = await session.post("/ui/login", data={"csrf": csrf.group(1), "token": token}, allow_redirects=False)
    assert answer.status == 303, answer.status
    return session


async def _time(session: aiohttp.ClientSession, paths: list[str], headers: dict[str, str] | None = None) -> list[float]:
    times = []
    for path in paths:
        start = time.perf_counter()
        async with session.get(path, headers=headers) as answer:
            await answer.read()
            assert answer.status == 200, (path, answer.status)
        times.append(time.perf_counter() - start)
    return times


def _row(case: str, rows: int, times: list[float]) -> dict[str, Any]:
    return {
        "case": case,
        "rows": rows,
        "p50_ms": median(times) * 1000,
        "p95_ms": percentile(times, 0.95) * 1000,
        "n": len(times),
    }


def _token(db: Path) -> str:
    with AccountDB(db.parent / "accounts.sqlite3") as accounts:
        accounts.create_account("bench", is_staff=True, is_superuser=True)
        return accounts.create_token("bench")


def _sample(db: Path) -> tuple[list[int], list[str]]:
    store = RequestLogStore(db)
    try:
        cursor = store.cursor()
        high = cursor.execute("SELECT max(id) FROM request_logs").fetchall()[0][0]
        routes = [r[0] for r in cursor.execute("SELECT DISTINCT route FROM request_logs LIMIT 50").fetchall()]
    finally:
        store.close()
    rng = random.Random(16)
    return [rng.randint(1, high) for _ in range(ROUNDS)], routes


async def _list_and_detail(db: Path, rows: int) -> list[dict[str, Any]]:
    token = _token(db)
    ids, routes = _sample(db)
    port: list[int] = []
    runner = await _serve(db, port)
    base = f"http://127.0.0.1:{port[0]}"
    session = await _signed_in(base, token)
    api = {"Authorization": f"Token {token}"}
    rng = random.Random(7)
    try:
        await _time(session, ["/ui/", "/api/metrics/request_logs"], api)  # warm up
        filters = [f"route={rng.choice(routes)}&method=GET" for _ in range(ROUNDS)]
        cases = [
            ("list, no filter (UI)", ["/ui/"] * ROUNDS, None),
            ("list, no filter (API baseline)", ["/api/metrics/request_logs"] * ROUNDS, api),
            ("list, status=5xx (UI)", ["/ui/?status=5xx"] * ROUNDS, None),
            ("list, route+method (UI)", ["/ui/?" + f for f in filters], None),
            ("list, route+method (API baseline)", ["/api/metrics/request_logs?" + f for f in filters], api),
            ("list, one day + anonymous (UI)", [f"/ui/?{DAY}&user=0"] * ROUNDS, None),
            ("detail (UI)", [f"/ui/logs/{i}" for i in ids], None),
            ("detail (API baseline)", [f"/api/metrics/request_logs/{i}" for i in ids], api),
        ]
        return [_row(case, rows, await _time(session, paths, headers)) for case, paths, headers in cases]
    finally:
        await session.close()
        await runner.cleanup()


async def _dashboard(db: Path, rows: int) -> list[dict[str, Any]]:
    token = _token(db)
    port: list[int] = []
    runner = await _serve(db, port)
    session = await _signed_in(f"http://127.0.0.1:{port[0]}", token)
    try:
        out = []
        for label, query in (("30 days", MONTH), ("1 day", DAY)):
            for kind, path in (("page (top lists)", "/ui/dashboard?"), ("series (charts)", "/ui/dashboard/series?")):
                times = await _time(session, [path + query] * DASHBOARD_ROUNDS)
                out.append(_row(f"dashboard {kind}, {label}", rows, times))
        return out
    finally:
        await session.close()
        await runner.cleanup()


def _interleaved(
    store: RequestLogStore, variants: dict[str, tuple[str, list[Any]]], rounds: int
) -> dict[str, list[float]]:
    """Each variant's times, run in turns (the machine is shared: a burst of load hits all alike)."""
    times: dict[str, list[float]] = {label: [] for label in variants}
    for _ in range(rounds):
        for label, (sql, params) in variants.items():
            start = time.perf_counter()
            store.cursor().execute(sql, params).fetchall()
            times[label].append(time.perf_counter() - start)
    return times


def _query_choices(db: Path, rows: int) -> tuple[list[dict[str, Any]], float]:
    """The dashboard's 30-day SQL against what it replaced (exact percentiles of every bucket, every
    route) and DuckDB's t-digest; and the series' worst percentile error against exact nearest rank."""
    start, end = datetime(2025, 11, 1), datetime(2025, 12, 1)
    bounds = {"started_after": start, "started_before": end}
    step = 6 * 3600
    where = "WHERE started_at >= ? AND started_at < ?"
    exact = f"""SELECT CAST(floor(epoch(started_at) / {step}) AS BIGINT) * {step}, count(*),
    count(*) FILTER (WHERE {ERROR_CONDITION}), count(*) FILTER (WHERE is_bot),
    quantile_cont(duration, [0.5, 0.95, 0.99])
FROM request_logs {where} GROUP BY 1 ORDER BY 1"""
    window: list[Any] = [start, end]
    variants = {
        "time series, histogram (used)": timeseries_query(step, started_after=start, started_before=end),
        "time series, quantile_cont (before)": (exact, window),
        "time series, approx_quantile": (exact.replace("quantile_cont", "approx_quantile"), window),
        "top routes, two passes (used)": dashboard_query("routes", **bounds, limit=10),
        "top routes, stats of every route (before)": stats_query("route", **bounds, limit=10),
    }
    store = RequestLogStore(db)
    try:
        times = _interleaved(store, variants, DASHBOARD_ROUNDS)
        histogram = store.cursor().execute(*variants["time series, histogram (used)"]).fetchall()
        nearest = store.cursor().execute(exact.replace("quantile_cont", "quantile_disc"), window).fetchall()
    finally:
        store.close()
    worst = max(
        abs(estimate - truth) / truth
        for got, want in zip(histogram, nearest, strict=True)
        for estimate, truth in zip(got[4], want[4], strict=True)
    )
    return [_row(f"SQL 30 days: {label}", rows, spent) for label, spent in times.items()], worst


def main() -> None:
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="reqlog-ui-") as tmp:
        small = Path(tmp) / "small" / "logs.duckdb"
        small.parent.mkdir()
        _build(small, LIST_ROWS)
        results += asyncio.run(_list_and_detail(small, LIST_ROWS))
        print(f"{LIST_ROWS:,} rows measured", flush=True)
        large = Path(tmp) / "large" / "logs.duckdb"
        large.parent.mkdir()
        _build(large, DASHBOARD_ROWS)
        results += asyncio.run(_dashboard(large, DASHBOARD_ROWS))
        choices, worst_error = _query_choices(large, DASHBOARD_ROWS)
        results += choices
    ui_list = [r for r in results if r["case"].startswith("list") and "(UI)" in r["case"]]
    detail = next(r for r in results if r["case"] == "detail (UI)")
    dashboard = [r for r in results if r["case"].startswith("dashboard")]
    slowest_list = max(r["p50_ms"] for r in ui_list)
    slowest_dashboard = max(r["p50_ms"] for r in dashboard)
    goals = [
        {
            "goal": f"slowest list page p50 at {LIST_ROWS:,} rows (ms)",
            "value": slowest_list,
            "target": "<= 50 ms",
            "ok": slowest_list <= 50,
        },
        {
            "goal": f"detail page p50 at {LIST_ROWS:,} rows (ms)",
            "value": detail["p50_ms"],
            "target": "<= 50 ms",
            "ok": detail["p50_ms"] <= 50,
        },
        {
            "goal": f"slowest dashboard request p50 at {DASHBOARD_ROWS:,} rows (ms)",
            "value": slowest_dashboard,
            "target": "<= 1000 ms",
            "ok": slowest_dashboard <= 1000,
        },
        {
            "goal": "time-series percentiles' worst relative error against exact nearest rank, 30 days",
            "value": worst_error,
            "target": f"<= {ERROR}",
            "ok": worst_error <= ERROR,
        },
    ]
    report("ui", results, goals=goals)


if __name__ == "__main__":
    main()
