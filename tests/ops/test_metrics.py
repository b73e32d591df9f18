"""`GET /metrics`: read by prometheus_client's own parser, counting what really happened, behind 3601 or a network."""

from __future__ import annotations

import zlib
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from prometheus_client.parser import text_string_to_metric_families

from query_api import ServiceSettings, create_app
from query_api.ops.metrics_view import _in_networks, _networks
from tests.query_api.conftest import ClientFactory
from tests.query_api.harness import Tokens, auth

from .conftest import send, spans_body

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


async def _scrape(client: TestClient[Any, Any], token: str | None) -> Samples:
    response = await client.get("/metrics", headers=auth(token) if token else {})
    assert response.status == 200, await response.text()
    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    samples: Samples = {}
    for family in text_string_to_metric_families(await response.text()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def _gzip_of_zeros(size: int) -> bytes:
    packer = zlib.compressobj(wbits=31)  # the gzip container
    chunk = bytes(1024 * 1024)
    return b"".join(packer.compress(chunk) for _ in range(size // len(chunk))) + packer.flush()


def _value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


async def test_metrics_count_ingest_sql_http_and_the_cache(api_client: TestClient[Any, Any], tokens: Tokens) -> None:
    before = await _scrape(api_client, tokens.admin)
    assert _value(before, "reqlog_ready") == 1
    assert _value(before, "reqlog_otlp_requests_total", outcome="stored", reason="") == 0

    assert await send(api_client, tokens.ingest_only, spans_body(3, ignored=1)) == 200
    assert await send(api_client, tokens.ingest_only, spans_body(3, ignored=1)) == 200  # a retry: duplicates
    assert await send(api_client, tokens.ingest_only, b"\x0a\x05junk") == 400
    assert await send(api_client, tokens.ingest_only, b"{}", content_type="text/plain") == 415
    big = _gzip_of_zeros(130 * 1024 * 1024)  # inflates past REQLOG_INGEST_MAX_BYTES (128 MiB)
    response = await api_client.post(
        "/v1/traces",
        data=big,
        headers={"Content-Type": "application/x-protobuf", "Content-Encoding": "gzip", **auth(tokens.ingest_only)},
    )
    assert response.status == 413
    sql = [{"sql": "SELECT count(*) FROM request_logs"}, {"sql": "DELETE FROM request_logs"}]
    statuses = [
        (await api_client.post("/api/metrics/sql", json=body, headers=auth(tokens.admin))).status for body in sql
    ]
    assert statuses == [200, 400]
    assert (await api_client.get("/api/metrics/request_logs/1", headers=auth(tokens.admin))).status == 200
    assert (await api_client.get("/api/metrics/request_logs/999", headers=auth(tokens.admin))).status == 404
    assert (await api_client.get("/no/such/page")).status == 404

    after = await _scrape(api_client, tokens.staff_viewer)
    assert _value(after, "reqlog_otlp_requests_total", outcome="stored", reason="") == 2
    assert _value(after, "reqlog_otlp_requests_total", outcome="rejected", reason="malformed") == 1
    assert _value(after, "reqlog_otlp_requests_total", outcome="rejected", reason="unsupported_media") == 1
    assert _value(after, "reqlog_otlp_requests_total", outcome="rejected", reason="too_large") == 1
    assert _value(after, "reqlog_otlp_spans_total", outcome="stored") == 3
    assert _value(after, "reqlog_otlp_spans_total", outcome="duplicate") == 3
    assert _value(after, "reqlog_otlp_spans_total", outcome="ignored") == 2
    assert _value(after, "reqlog_writer_rows_written_total") == 3
    assert _value(after, "reqlog_writer_queue_rows") == 0
    assert _value(after, "reqlog_writer_commit_duration_seconds_count") == 2
    assert _value(after, "reqlog_writer_commit_duration_seconds_bucket", le="+Inf") == 2
    assert _value(after, "reqlog_sql_queries_total", outcome="ok") == 1
    assert _value(after, "reqlog_sql_queries_total", outcome="refused") == 1
    assert _value(after, "reqlog_recent_cache_hits_total") == 1
    assert _value(after, "reqlog_recent_cache_misses_total") == 1
    route = "/api/metrics/request_logs/{id}"
    assert _value(after, "reqlog_http_requests_total", route=route, method="GET", status="200") == 1
    assert _value(after, "reqlog_http_requests_total", route=route, method="GET", status="404") == 1
    assert _value(after, "reqlog_http_requests_total", route="unmatched", method="GET", status="404") == 1
    assert _value(after, "reqlog_http_requests_total", route="/v1/traces", method="POST", status="413") == 1
    assert _value(after, "reqlog_http_request_duration_seconds_count", route=route) == 2
    assert _value(after, "reqlog_database_size_bytes", file="database") > 0
    assert _value(after, "reqlog_disk_free_bytes") > 0
    assert _value(after, "process_resident_memory_bytes") > 0
    label_values = [value for _, labels in after for _, value in labels]
    assert not any("999" in value or "such" in value for value in label_values), "a path leaked into a label"


async def test_metrics_follow_the_request_logs_access_rule(api_client: TestClient[Any, Any], tokens: Tokens) -> None:
    assert (await api_client.get("/metrics")).status == 401
    for token in (tokens.staff_plain, tokens.viewer_not_staff, tokens.ingest_only):
        assert (await api_client.get("/metrics", headers=auth(token))).status == 403
    assert (await api_client.get("/metrics", headers=auth(tokens.inactive))).status == 401


@pytest.mark.parametrize(("networks", "status"), [("127.0.0.0/8", 200), ("10.0.0.0/8,::1/128", 401)])
async def test_a_scrape_network_reads_without_a_token(
    aiohttp_client: ClientFactory, db_path: Path, tokens: Tokens, networks: str, status: int
) -> None:
    settings = ServiceSettings.from_env({"REQLOG_METRICS_NETWORKS": networks}, db=db_path)
    client = await aiohttp_client(create_app(settings))  # listens on 127.0.0.1
    assert (await client.get("/metrics")).status == status


def test_network_matching() -> None:
    networks = _networks(("10.0.0.0/8", "2001:db8::/32"))
    assert _in_networks("10.1.2.3", networks) and _in_networks("::ffff:10.1.2.3", networks)
    assert _in_networks("2001:db8::1", networks) and not _in_networks("11.0.0.1", networks)
    assert not _in_networks(None, networks) and not _in_networks("127.0.0.1", ())
