"""`GET /healthz` and `GET /readyz`: for supervisors, load balancers and orchestrators, without a token.

- `/healthz` answers 200 whenever the process answers at all (liveness: restart it if this fails).
- `/readyz` answers 200 when the service can take traffic: the store is open and its directory
  writable with room left, the writer thread runs and is not stuck in one transaction, its last
  write did not fail, and the accounts are loaded. Otherwise 503 with the reasons.

Neither needs authentication, so neither says anything about the data: the reasons name what is
wrong in fixed words (never DuckDB's error text, which can quote stored values), and no count of
rows or accounts is given.
"""

from __future__ import annotations

import os
import shutil
import time

import orjson
from aiohttp import web

from query_api.keys import ACCOUNTS_KEY, INGEST_KEY, SETTINGS_KEY, STORE_KEY

HEALTH_PATH = "/healthz"
READY_PATH = "/readyz"
_NO_CACHE = {"Cache-Control": "no-store"}


async def healthz(request: web.Request) -> web.Response:
    return _json(200, {"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    problems = readiness_problems(request.app)
    if problems:
        return _json(503, {"status": "unavailable", "reasons": problems})
    return _json(200, {"status": "ready"})


def readiness_problems(app: web.Application) -> list[str]:
    """What keeps the service from taking traffic now; empty when it is ready. Cheap: no I/O but two stats."""
    problems: list[str] = []
    settings = app[SETTINGS_KEY]
    store = app.get(STORE_KEY)
    if store is None or store.closed:
        problems.append("the store is not open")
    else:
        directory = settings.db.parent
        if not os.access(directory, os.W_OK):
            problems.append("the data directory is not writable")
        else:
            try:
                free = shutil.disk_usage(directory).free
            except OSError:
                free = 0
            if free < settings.ready_min_free_bytes:
                problems.append(f"less than {settings.ready_min_free_bytes} bytes free in the data directory")
    ingest = app.get(INGEST_KEY)
    if ingest is None or not ingest.writer.running:
        problems.append("the writer is not running")
    else:
        busy = ingest.writer.busy_since
        if busy is not None and time.monotonic() - busy > settings.ready_stall_seconds:
            problems.append(
                f"the writer is stalled: one transaction has run for over {settings.ready_stall_seconds:g} s"
            )
        if ingest.writer.last_error is not None:
            problems.append("the last write failed (the service log says why)")
    accounts = app.get(ACCOUNTS_KEY)
    if accounts is None or accounts.reloads == 0:
        problems.append("the accounts are not loaded")
    return problems


def _json(status: int, body: dict[str, object]) -> web.Response:
    return web.Response(status=status, body=orjson.dumps(body), content_type="application/json", headers=_NO_CACHE)
