"""`GET /api/metrics/service`: the counters since start, behind the request logs' access rule."""

from __future__ import annotations

from typing import Any

import jsonschema
from aiohttp.test_utils import TestClient

from tests.otlp_payloads import pb_request, pb_span

from .harness import Tokens, auth


async def _status(client: TestClient[Any, Any], token: str) -> dict[str, Any]:
    response = await client.get("/api/metrics/service", headers=auth(token))
    assert response.status == 200, await response.text()
    body: dict[str, Any] = await response.json()
    return body


async def test_counters_follow_ingest_and_reads(api_client: TestClient[Any, Any], tokens: Tokens) -> None:
    before = await _status(api_client, tokens.admin)
    assert before["ingest"] == {
        "requests": 0,
        "spans": 0,
        "rows": 0,
        "ignored": 0,
        "rejected": 0,
        "refused": 0,
        "over_budget": 0,
        "too_large": 0,
    }
    assert before["uptime_seconds"] >= 0 and before["started_at"].endswith("Z")
    spans = [pb_span({"http.request.method": "GET"}, span_id=i.to_bytes(8, "big")) for i in range(1, 4)]
    spans.append(pb_span({"db.system": "sqlite"}, span_id=(9).to_bytes(8, "big")))  # no HTTP method: ignored
    answer = await api_client.post(
        "/v1/traces",
        data=pb_request(spans).SerializeToString(),
        headers={"Content-Type": "application/x-protobuf", **auth(tokens.ingest_only)},
    )
    assert answer.status == 200
    retrieved = await api_client.get("/api/metrics/request_logs/1", headers=auth(tokens.admin))
    assert retrieved.status == 200
    after = await _status(api_client, tokens.staff_viewer)
    assert after["ingest"] == {
        "requests": 1,
        "spans": 4,
        "rows": 3,
        "ignored": 1,
        "rejected": 0,
        "refused": 0,
        "over_budget": 0,
        "too_large": 0,
    }
    assert after["writer"]["rows_written"] == 3 and after["writer"]["transactions"] >= 1
    assert after["writer"]["pending_rows"] == 0 and after["writer"]["failures"] == 0
    assert after["recent_cache"]["rows"] == 3 and after["recent_cache"]["hits"] == 1


async def test_the_answer_matches_the_openapi_document(api_client: TestClient[Any, Any], tokens: Tokens) -> None:
    doc = await (await api_client.get("/api/openapi.json")).json()
    operation = doc["paths"]["/api/metrics/service"]["get"]
    schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
    body = await _status(api_client, tokens.admin)
    jsonschema.Draft202012Validator({"components": doc["components"], **schema}).validate(body)


async def test_the_request_logs_access_rule_applies(api_client: TestClient[Any, Any], tokens: Tokens) -> None:
    assert (await api_client.get("/api/metrics/service")).status == 401
    for token in (tokens.staff_plain, tokens.viewer_not_staff, tokens.ingest_only):
        assert (await api_client.get("/api/metrics/service", headers=auth(token))).status == 403
