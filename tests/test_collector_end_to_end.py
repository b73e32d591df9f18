"""End to end with real processes, as a user runs them:

`reqlog serve` <- OTLP/HTTP protobuf (the stock `OTLPSpanExporter`, configured only through the
standard `OTEL_EXPORTER_OTLP_*` variables, token included) <- a Starlette app behind
`RequestLogMiddleware`, run by `uvicorn --workers 2`. N requests to the app become N rows, each
retrievable through `GET /api/metrics/request_logs/{id}` and findable by its trace id.
"""

from __future__ import annotations

import contextlib
import http.client
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from tests.hermetic import clean_environ
from tests.query_api.harness import Service, reqlog

REQUESTS = 24
APP = """
import os

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from instrumentation import RequestLogMiddleware

# Each uvicorn worker builds its own provider; the exporter reads OTEL_EXPORTER_OTLP_* itself.
provider = TracerProvider(resource=Resource.create())
provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))


async def item(request):
    return JSONResponse({"item": int(request.path_params["n"]), "worker": os.getpid()})


app = RequestLogMiddleware(Starlette(routes=[Route("/items/{n:int}", item)]), tracer_provider=provider)
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def call(port: int, path: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def trace_id(n: int) -> str:
    return f"{0xE2E0000 + n:032x}"


def test_uvicorn_workers_export_over_otlp_to_reqlog_serve(tmp_path: Path) -> None:
    import orjson

    db = tmp_path / "data" / "reqlog.duckdb"
    reqlog("account", "create", "collector", "--grant", "3602", db=db)
    ingest_token = reqlog("token", "create", "collector", db=db).stdout.strip()
    reqlog("account", "create", "viewer", "--staff", "--grant", "3601", db=db)
    view_token = reqlog("token", "create", "viewer", db=db).stdout.strip()
    service = Service(db, tmp_path / "serve.log")
    (tmp_path / "e2e_app.py").write_text(APP)
    port = free_port()
    env = {
        **clean_environ(),
        "OTEL_SERVICE_NAME": "e2e-shop",
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{service.port}",
        "OTEL_EXPORTER_OTLP_HEADERS": f"Authorization=Token%20{ingest_token}",
        "OTEL_BSP_SCHEDULE_DELAY": "100",
    }
    app = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "e2e_app:app", "--app-dir", str(tmp_path), "--workers", "2",
         "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            assert app.poll() is None, app.stderr.read() if app.stderr else ""
            assert time.monotonic() < deadline, "uvicorn did not start"
            with contextlib.suppress(OSError):
                if call(port, "/items/0")[0] == 200:  # a warm-up request: also stored
                    break
            time.sleep(0.1)
        workers = set()  # which worker answers is the kernel's choice: usually both do
        for n in range(1, REQUESTS + 1):
            status, body = call(port, f"/items/{n}?q={n}", {"traceparent": f"00-{trace_id(n)}-{n:016x}-01"})
            assert status == 200
            workers.add(orjson.loads(body)["worker"])

        viewer = {"Authorization": f"Token {view_token}"}
        found: dict[int, dict[str, object]] = {}
        deadline = time.monotonic() + 60
        while len(found) < REQUESTS and time.monotonic() < deadline:  # batches leave every 100 ms
            for n in range(1, REQUESTS + 1):
                if n not in found:
                    status, body = call(service.port, f"/api/metrics/request_logs?trace_id={trace_id(n)}", viewer)
                    assert status == 200, body
                    results = orjson.loads(body)["results"]
                    assert len(results) <= 1
                    if results:
                        found[n] = results[0]
            time.sleep(0.2)
        assert sorted(found) == list(range(1, REQUESTS + 1)), service.stderr()
        for n, listed in found.items():
            status, body = call(service.port, f"/api/metrics/request_logs/{listed['id']}", viewer)
            assert status == 200
            row = orjson.loads(body)
            assert (row["endpoint"], row["method"], row["status_code"]) == (f"/items/{n}", "GET", 200)
            assert row["query_params"] == {"q": str(n)} and row["service_name"] == "e2e-shop"
            assert row["trace_id"] == trace_id(n) and row["response"]["item"] == n
    finally:
        app.send_signal(signal.SIGINT)
        try:
            app.wait(30)
        finally:
            if app.poll() is None:
                app.kill()
                app.wait()
            if app.stderr:
                app.stderr.close()
            assert service.stop() == 0, service.stderr()
