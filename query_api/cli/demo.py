"""`reqlog demo`: the service, an instrumented sample shop, a burst of varied traffic, a summary.

Everything runs in this process on loopback: the reqlog service (`create_app`), the shop served by
uvicorn and exporting its spans over OTLP/HTTP to the service like any production app, and an
httpx client playing browsers on desktop, phone and tablet, a crawler, and API clients. Once every
request is stored it prints a summary (through the service's SQL endpoint) and the `curl` commands
to try, then keeps both running until Ctrl-C (or exits at once with `--no-wait`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import logging
import shutil
import signal
import socket
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from query_api.accounts.db import AccountDB
from query_api.auth import PERM_INGEST
from query_api.ops import listen
from query_api.settings import ServiceSettings
from query_api.sql.output import format_table

if TYPE_CHECKING:
    import httpx

FIREFOX = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:145.0) Gecko/20100101 Firefox/145.0"
SAFARI_MAC = ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
              "Version/18.1 Safari/605.1.15")  # fmt: skip
IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
          "Version/18.1 Mobile/15E148 Safari/604.1")  # fmt: skip
IPAD = ("Mozilla/5.0 (iPad; CPU OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 "
        "Mobile/15E148 Safari/604.1")  # fmt: skip
ANDROID = ("Mozilla/5.0 (Linux; Android 15; Pixel 9) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/142.0 Mobile "
           "Safari/537.36")  # fmt: skip
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"

# (user agent, method, path, httpx keyword arguments): one round of the traffic, repeated.
TRAFFIC: list[tuple[str, str, str, dict[str, Any]]] = [
    (FIREFOX, "GET", "/", {}),
    (SAFARI_MAC, "GET", "/products?limit=5&sort=price", {}),
    (IPHONE, "GET", "/products/3", {}),
    (IPAD, "GET", "/products/7?ref=newsletter", {}),
    (GOOGLEBOT, "GET", "/", {}),
    # One request with everything a row can hold: a user, a redacted password, an exception and its traceback.
    (FIREFOX, "POST", "/account/password", {"data": {"password": "hunter2", "new_password": "correct horse"}}),
    (ANDROID, "POST", "/api/orders", {"json": {"items": [{"id": 3, "quantity": 2}], "card_number": "4111"}}),
    (FIREFOX, "POST", "/login", {"data": {"username": "ada", "password": "hunter2"}}),
    (IPHONE, "GET", "/products/404", {}),
    (SAFARI_MAC, "GET", "/no-such-page", {}),
    (FIREFOX, "POST", "/checkout", {"json": {"cart": 1}}),
]

SUMMARIES = {
    "Requests by status": "SELECT status_code, count(*) AS requests FROM request_logs GROUP BY 1 ORDER BY 1",
    "Requests by device type": "SELECT device_type, count(*) AS requests, count(*) FILTER (WHERE is_bot) AS bots "
    "FROM request_logs GROUP BY 1 ORDER BY 2 DESC",
    "Slowest routes": "SELECT coalesce(route, endpoint) AS route, count(*) AS requests, "
    "round(max(duration) * 1000, 2) AS max_ms FROM request_logs GROUP BY 1 ORDER BY max_ms DESC LIMIT 3",
}


DEMO_PORT = 8765
SHOWN_PATH = "/account/password"  # the request shown whole, as the API serves it


def add_command(commands: argparse._SubParsersAction[Any]) -> None:
    """Add `reqlog demo` to the `reqlog` parser."""
    demo = commands.add_parser("demo", help="run the service and a sample app, send traffic, show the logs")
    demo.add_argument("--requests", type=int, default=50, help="how many requests to send (default: 50)")
    demo.add_argument(
        "--port", type=int, default=DEMO_PORT, help=f"the service's port (default: {DEMO_PORT}, not `make run`'s 8000)"
    )
    demo.add_argument("--app-port", type=int, default=0, help="the sample app's port (default: any free one)")
    demo.add_argument("--data", type=Path, help="data directory (default: a new temporary one)")
    demo.add_argument("--no-wait", action="store_true", help="exit after the summary instead of waiting for Ctrl-C")
    demo.set_defaults(func=lambda args: asyncio.run(run_demo(args)))


async def run_demo(args: argparse.Namespace) -> int:
    # The web stacks are imported in `_run`: every other `reqlog` command starts without them.
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request would bury the summary
    try:
        sock = listen.bind("127.0.0.1", args.port)  # first: a busy port is one line, before anything is made
    except listen.CannotListen as exc:
        print(f"reqlog: error: {exc}", file=sys.stderr)
        return 1
    data = args.data or Path(tempfile.mkdtemp(prefix="reqlog-demo-"))
    try:
        return await _run(args, sock, data)
    finally:
        if args.data is None:  # a directory of its own: nothing of the demo stays behind
            shutil.rmtree(data, ignore_errors=True)


async def _run(args: argparse.Namespace, sock: socket.socket, data: Path) -> int:
    import httpx
    import uvicorn
    from aiohttp import web

    import instrumentation
    from query_api.app import create_app
    from query_api.cli.demo_shop import create_shop

    settings = ServiceSettings.from_env({}, db=data / "reqlog.duckdb", port=sock.getsockname()[1])
    admin_token, ingest_token = _demo_tokens(settings)
    runner = web.AppRunner(create_app(settings), access_log=None)
    await runner.setup()
    await web.SockSite(runner, sock).start()
    service = f"http://127.0.0.1:{settings.port}"
    provider = instrumentation.configure(
        endpoint=service, token=ingest_token, service_name="demo-shop", set_global=False
    )

    class _QuietServer(uvicorn.Server):
        # Ctrl-C belongs to the demo, which stops the shop itself; uvicorn would re-raise it.
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            yield

    app_port = args.app_port or _free_port()
    shop = _QuietServer(uvicorn.Config(create_shop(provider), host="127.0.0.1", port=app_port, log_level="critical"))
    shop_task = asyncio.create_task(shop.serve())
    try:
        while not shop.started:
            await asyncio.sleep(0.02)
        kept = "" if args.data is None else " (kept)"
        print(f"reqlog demo: service on {service} (data in {data}{kept}), sample shop on http://127.0.0.1:{app_port}")
        sent = await _send_traffic(f"http://127.0.0.1:{app_port}", args.requests)
        await asyncio.to_thread(provider.force_flush)
        async with httpx.AsyncClient(base_url=service, headers={"Authorization": f"Token {admin_token}"}) as api:
            stored = await _wait_for_rows(api, sent)
            print(f"\n{sent} requests sent, {stored} request logs stored.\n")
            for title, sql in SUMMARIES.items():
                answer = (await api.post("/api/metrics/sql", json={"sql": sql})).json()
                print(f"{title}:\n{format_table(answer['columns'], answer['rows'])}\n")
            shown = await _show_one_request(api)
        _print_next_steps(service, admin_token, shown)
        if not args.no_wait:
            await _until_interrupted()
        return 0 if stored >= sent else 1
    finally:
        shop.should_exit = True
        await shop_task
        await asyncio.to_thread(provider.shutdown)
        await runner.cleanup()


def _demo_tokens(settings: ServiceSettings) -> tuple[str, str]:
    """An admin token for the API and an ingest-only token for the shop (accounts made if missing)."""
    with AccountDB(settings.accounts_path) as accounts:
        existing = {account.username for account, _ in accounts.list_accounts()}
        if "demo-admin" not in existing:
            accounts.create_account("demo-admin", full_name="Demo Admin", is_superuser=True)
        if "demo-shop" not in existing:
            accounts.create_account("demo-shop", full_name="Demo shop collector", permissions=[PERM_INGEST])
        return accounts.create_token("demo-admin"), accounts.create_token("demo-shop")


async def _send_traffic(base_url: str, count: int) -> int:
    import httpx

    async with httpx.AsyncClient(base_url=base_url) as client:
        for agent, method, path, kwargs in itertools.islice(itertools.cycle(TRAFFIC), count):
            await client.request(method, path, headers={"User-Agent": agent}, **kwargs)
    return count


async def _wait_for_rows(api: httpx.AsyncClient, expected: int, timeout: float = 30.0) -> int:
    deadline = time.monotonic() + timeout
    stored = 0
    while time.monotonic() < deadline:
        answer = await api.post("/api/metrics/sql", json={"sql": "SELECT count(*) FROM request_logs"})
        stored = int(answer.json()["rows"][0][0])
        if stored >= expected:
            break
        await asyncio.sleep(0.1)
    return stored


async def _show_one_request(api: httpx.AsyncClient) -> int:
    """Print one stored request whole, exactly as `GET /api/metrics/request_logs/{id}` serves it; its id."""
    listed = (await api.get("/api/metrics/request_logs", params={"endpoint": SHOWN_PATH, "page_size": 1})).json()
    if not listed["results"]:
        listed = (await api.get("/api/metrics/request_logs", params={"page_size": 1})).json()
    if not listed["results"]:
        return 1
    log_id = int(listed["results"][0]["id"])
    row = (await api.get(f"/api/metrics/request_logs/{log_id}")).json()
    print(f"One request as the API serves it (GET /api/metrics/request_logs/{log_id}):")
    print(orjson.dumps(row, option=orjson.OPT_INDENT_2).decode())
    print()
    return log_id


def _print_next_steps(service: str, token: str, log_id: int) -> None:
    auth = f'-H "Authorization: Token {token}"'
    print("Try:")
    print(f"  curl {auth} {service}/api/metrics/request_logs/{log_id}")
    print(f"  curl {auth} '{service}/api/metrics/request_logs?status=5xx'")
    print(f"  curl {auth} '{service}/api/metrics/request_logs/stats?group_by=route'")
    print()


async def _until_interrupted() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    print("Press Ctrl-C to stop.", flush=True)
    try:
        await stop.wait()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        print("\nreqlog demo: stopping.", file=sys.stderr)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
