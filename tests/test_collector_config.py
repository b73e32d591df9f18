"""docs/otelcol-config.yaml: a Collector pipeline that fans in to reqlog the way the service expects.

No Collector binary is installable here (docs/design-notes.md), so the test reads the configuration as the
Collector would (its `${env:VAR}` substitution included) and then sends what its `otlphttp`
exporter would send, to the URL and with the headers it names, to the real service.
"""

from __future__ import annotations

import gzip
import re
from pathlib import Path
from typing import Any

import yaml
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from query_api import ServiceSettings, create_app
from query_api.ingest.receiver import PATH
from query_api.keys import STORE_KEY
from tests.otlp_payloads import pb_request, pb_span
from tests.query_api.harness import make_accounts

CONFIG = Path(__file__).resolve().parent.parent / "docs" / "otelcol-config.yaml"
DOC = CONFIG.with_name("collector.md")


def load(environ: dict[str, str]) -> dict[str, Any]:
    text = re.sub(r"\$\{env:(\w+)\}", lambda m: environ[m.group(1)], CONFIG.read_text())
    return yaml.safe_load(text)  # type: ignore[no-any-return]


def test_the_pipeline_shape() -> None:
    config = load({"REQLOG_ENDPOINT": "http://reqlog:8000", "REQLOG_TOKEN": "abc"})
    traces = config["service"]["pipelines"]["traces"]
    assert traces["receivers"] == ["otlp"]
    assert traces["processors"] == ["memory_limiter", "batch"]  # the limiter first, as the Collector advises
    [name] = traces["exporters"]
    assert name.split("/")[0] == "otlphttp"
    exporter = config["exporters"][name]
    assert exporter["traces_endpoint"] == "http://reqlog:8000" + PATH
    assert exporter["headers"] == {"Authorization": "Token abc"}
    assert exporter["retry_on_failure"]["enabled"] is True
    assert exporter["sending_queue"]["enabled"] is True
    assert set(config["receivers"]["otlp"]["protocols"]) == {"grpc", "http"}
    assert DOC.exists() and CONFIG.name in DOC.read_text()


async def test_what_its_exporter_sends_is_accepted(tmp_path: Path, aiohttp_client: Any) -> None:
    settings = ServiceSettings.from_env({}, db=tmp_path / "reqlog.duckdb", port=0, ingest_workers=0)
    tokens = make_accounts(settings.accounts_path)
    client = await aiohttp_client(create_app(settings))
    base = str(client.make_url("/")).rstrip("/")
    exporter = load({"REQLOG_ENDPOINT": base, "REQLOG_TOKEN": tokens.ingest_only})["exporters"]["otlphttp/reqlog"]
    assert exporter["compression"] == "gzip" and exporter["encoding"] == "proto"
    body = gzip.compress(pb_request([pb_span({"http.request.method": "GET", "url.path": "/x"})]).SerializeToString())
    headers = {**exporter["headers"], "Content-Type": "application/x-protobuf", "Content-Encoding": "gzip"}
    response = await client.session.post(exporter["traces_endpoint"], data=body, headers=headers)
    assert response.status == 200
    ExportTraceServiceResponse.FromString(await response.read())
    assert client.server.app[STORE_KEY].count() == 1
