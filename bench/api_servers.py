"""The servers `bench/api.py` measures, each in its own process (`python -m bench.api _serve KIND PORT ...`).

(b) a static aiohttp endpoint returning the bytes of one rendered row; (c) and (d) the service.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path


def serve_static(port: int, body_file: str) -> None:
    from aiohttp import web

    body = Path(body_file).read_bytes()

    async def handler(request: web.Request) -> web.Response:
        return web.Response(body=body, content_type="application/json")

    app = web.Application()
    app.router.add_get("/api/metrics/request_logs/{id}", handler)
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)


def serve_service(port: int, db: str, accounts: str) -> None:
    from aiohttp import web

    from query_api import ServiceSettings, create_app

    settings = ServiceSettings.from_env({}, db=Path(db), accounts_db=Path(accounts), port=port)
    web.run_app(create_app(settings), host="127.0.0.1", port=port, access_log=None, print=None)


class Server:
    def __init__(self, *args: str) -> None:
        self.port = _free_port()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bench.api", "_serve", args[0], str(self.port), *args[1:]]
        )
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}/api/metrics/request_logs/1", timeout=5).close()
                break
            except urllib.error.HTTPError:
                break  # it answers (401 without a token): ready
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("server did not start") from None
                time.sleep(0.1)

    def stop(self) -> None:
        self.process.send_signal(signal.SIGINT)
        self.process.wait(timeout=60)


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
