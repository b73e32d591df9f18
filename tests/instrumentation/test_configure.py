"""`configure()` and `otel-config.yaml`: spans really arrive, over OTLP/HTTP with the token or in DuckDB.

The OTLP side is a real aiohttp server on 127.0.0.1 that decodes what the SDK's OTLP exporter sends.
`otel-config.yaml` sets global providers, so it is loaded in a child process through
`OTEL_CONFIG_FILE` and the SDK's own configurator, exactly as an instrumented app would load it.
"""

from __future__ import annotations

import asyncio
import gzip
import sys
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from exporter import RequestLogStore
from instrumentation import OptionError, RequestLogMiddleware, configure
from tests.hermetic import clean_environ

from .helpers import request
from .test_raw_asgi import raw_app

ROOT = Path(__file__).resolve().parents[2]
CONFIG_FILE = ROOT / "otel-config.yaml"


class Receiver:
    """Collects OTLP/HTTP trace exports: (authorization header, decoded spans as dicts)."""

    def __init__(self) -> None:
        self.exports: list[tuple[str | None, list[dict[str, Any]]]] = []
        self.probes: list[str | None] = []  # configure()'s connection check: an empty request

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        if not body:
            self.probes.append(request.headers.get("Authorization"))
            return web.Response(body=b"", content_type="application/x-protobuf")
        if body[:2] == b"\x1f\x8b":  # gzip that the server did not undo
            body = gzip.decompress(body)
        message = ExportTraceServiceRequest()
        message.ParseFromString(body)
        spans = []
        for resource_spans in message.resource_spans:
            resource = {kv.key: kv.value.string_value for kv in resource_spans.resource.attributes}
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    attributes = {kv.key: kv.value for kv in span.attributes}
                    spans.append({"name": span.name, "kind": span.kind, "resource": resource, "attrs": attributes})
        self.exports.append((request.headers.get("Authorization"), spans))
        return web.Response(body=b"", content_type="application/x-protobuf")


@pytest.fixture
async def receiver(aiohttp_server: Any) -> tuple[Receiver, str]:
    collector = Receiver()
    app = web.Application()
    app.router.add_post("/v1/traces", collector.handle)
    server = await aiohttp_server(app, host="127.0.0.1")
    return collector, f"http://127.0.0.1:{server.port}"


async def test_configure_otlp_sends_spans_with_the_token(receiver: tuple[Receiver, str]) -> None:
    collector, url = receiver
    provider = configure(endpoint=url, token="secret-token", service_name="shop", set_global=False, environ={})
    try:
        app = RequestLogMiddleware(raw_app, tracer_provider=provider)
        assert (await request(app, "POST", "/echo?a=1", json={"x": 1})).status_code == 201
    finally:
        # The exporter posts from the processor's thread to the server on this loop: never block it.
        await asyncio.to_thread(provider.shutdown)
    [(authorization, spans)] = collector.exports
    assert authorization == "Token secret-token"
    [span] = spans
    assert span["name"] == "POST" and span["resource"]["service.name"] == "shop"
    assert span["attrs"]["http.request.method"].string_value == "POST"
    assert span["attrs"]["http.request.body.content"].string_value == '{"x":1}'


async def test_configure_in_process_writes_duckdb(tmp_path: Path) -> None:
    db = tmp_path / "logs.duckdb"
    provider = configure(environ={"REQLOG_EXPORTER": "reqlog_duckdb", "REQLOG_DB": str(db)}, set_global=False)
    try:
        app = RequestLogMiddleware(raw_app, tracer_provider=provider)
        await request(app, "GET", "/redirect?next=1")
        await request(app, "GET", "/missing")
    finally:
        await asyncio.to_thread(provider.shutdown)
    store = RequestLogStore(db)
    try:
        assert store.count() == 2
        first = store.get_row(1)
        assert (first.endpoint, first.status_code, first.query_params) == ("/redirect", 302, '{"next":"1"}')
    finally:
        store.close()


def test_configure_endpoint_defaults() -> None:
    from instrumentation.provider import DEFAULT_ENDPOINT, _default_endpoint

    assert _default_endpoint({}) == DEFAULT_ENDPOINT == "http://127.0.0.1:8000"
    assert _default_endpoint({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}) is None


def test_configure_rejects_an_unknown_exporter() -> None:
    with pytest.raises(OptionError, match="no traces exporter named 'nope'"):
        configure(exporter="nope", set_global=False, environ={})


_CHILD = """
import asyncio, sys
from opentelemetry import trace
from opentelemetry.sdk._configuration import _OTelSDKConfigurator
_OTelSDKConfigurator().configure()  # what `opentelemetry-instrument` runs: reads OTEL_CONFIG_FILE
sys.path.insert(0, {root!r})
from instrumentation import RequestLogMiddleware
from tests.instrumentation.helpers import request
from tests.instrumentation.test_raw_asgi import raw_app
app = RequestLogMiddleware(raw_app)  # no tracer_provider: the global one the file configured
assert asyncio.run(request(app, "POST", "/echo?from=yaml", json={{"y": 2}})).status_code == 201
trace.get_tracer_provider().shutdown()
"""


async def _run_child(config: Path, env: dict[str, str]) -> None:
    child_env = clean_environ({**env, "OTEL_CONFIG_FILE": str(config), "PYTHONPATH": str(ROOT)})
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        _CHILD.format(root=str(ROOT)),
        cwd=str(ROOT),
        env=child_env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 0, stderr.decode()


async def test_otel_config_yaml_sends_to_the_service(receiver: tuple[Receiver, str]) -> None:
    collector, url = receiver
    env = {"REQLOG_ENDPOINT": url, "REQLOG_TOKEN": "yaml-token", "OTEL_SERVICE_NAME": "yaml-app"}
    await _run_child(CONFIG_FILE, env)
    [(authorization, spans)] = collector.exports
    assert authorization == "Token yaml-token"
    [span] = spans
    assert span["resource"]["service.name"] == "yaml-app"
    assert span["attrs"]["url.query"].string_value == "from=yaml"
    assert span["attrs"]["http.response.status_code"].int_value == 201


def in_process_variant(text: str) -> str:
    """otel-config.yaml with its commented in-process processor in place of the OTLP one."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == "- batch:")
    marker = next(i for i, line in enumerate(lines) if line.strip().startswith("# In-process alternative"))
    block_start = next(i for i in range(marker, len(lines)) if lines[i].strip() == "# - batch:")
    block = []
    for line in lines[block_start:]:
        if not line.strip().startswith("#"):
            break
        block.append(line.replace("# ", "", 1))
    end = next(i for i in range(block_start, len(lines)) if not lines[i].strip().startswith("#"))
    return "\n".join([*lines[:start], *block, *lines[end:]]) + "\n"


async def test_otel_config_yaml_in_process_alternative(tmp_path: Path) -> None:
    variant = tmp_path / "otel-config.yaml"
    variant.write_text(in_process_variant(CONFIG_FILE.read_text()))
    assert "reqlog_duckdb:" in variant.read_text() and "otlp_http" not in variant.read_text()
    db = tmp_path / "yaml.duckdb"
    await _run_child(variant, {"REQLOG_DB": str(db), "OTEL_SERVICE_NAME": "yaml-local"})
    store = RequestLogStore(db)
    try:
        row = store.get_row(1)
        assert (row.service_name, row.endpoint, row.body) == ("yaml-local", "/echo", '{"y":2}')
    finally:
        store.close()
