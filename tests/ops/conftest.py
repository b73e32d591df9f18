"""Fixtures for the operations tests: the query API's (settings, accounts, a live client) plus an ingest helper."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from tests.otlp_payloads import pb_request, pb_span
from tests.query_api.conftest import api_client, rows, settings, stored, tokens
from tests.query_api.harness import auth

__all__ = ["api_client", "rows", "settings", "stored", "tokens"]


def spans_body(count: int, *, first: int = 1, ignored: int = 0) -> bytes:
    """An OTLP protobuf request with `count` HTTP server spans and `ignored` spans of another kind."""
    spans = [pb_span({"http.request.method": "GET"}, span_id=i.to_bytes(8, "big")) for i in range(first, first + count)]
    spans += [pb_span({"db.system": "sqlite"}, span_id=(900 + i).to_bytes(8, "big")) for i in range(ignored)]
    return pb_request(spans).SerializeToString()


async def send(
    client: TestClient[Any, Any], token: str, body: bytes, content_type: str = "application/x-protobuf"
) -> int:
    response = await client.post("/v1/traces", data=body, headers={"Content-Type": content_type, **auth(token)})
    await response.read()
    return response.status
