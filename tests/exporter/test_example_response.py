"""The spec's example response, reproduced from a span carrying the same request.

The span goes through the real SDK, `DuckDBSpanExporter`, a real DuckDB file, and back out as the
API's JSON: every field must match `spec/example_response.json` except the ones the store assigns
(id, created_at, updated_at) and the Cookie header, which is redacted before storage.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from exporter import REDACTED, DuckDBSpanExporter, RequestLogStore
from exporter.row import render_json

from .spans import make_span

# A verbatim copy of the API specification's example response, so the contract travels with the repo.
SPEC = Path(__file__).resolve().parents[1] / "fixtures" / "example_response.json"
EXAMPLE = json.loads(SPEC.read_text())


def example_attributes() -> dict[str, object]:
    attributes: dict[str, object] = {
        "http.request.method": "GET",
        "url.scheme": "http",
        "url.path": "/superadmin/",
        "http.response.status_code": 302,
        "client.address": "127.0.0.1",
        "user_agent.original": EXAMPLE["request_headers"]["User-Agent"],
    }
    # Headers as OTel's ASGI instrumentation records them: lowercased, `-` as `_`, tuple values.
    for name, value in EXAMPLE["request_headers"].items():
        attributes["http.request.header." + name.lower().replace("-", "_")] = (value,)
    for name, value in EXAMPLE["response_headers"].items():
        attributes["http.response.header." + name.lower().replace("-", "_")] = (value,)
    return attributes


@pytest.fixture
def stored_json(
    tracer_provider: TracerProvider, span_exporter: InMemorySpanExporter, db_path: Path
) -> dict[str, object]:
    span = make_span(tracer_provider, span_exporter, example_attributes())
    exporter = DuckDBSpanExporter(db_path)
    assert exporter.export([span]).name == "SUCCESS"
    exporter.shutdown()
    store = RequestLogStore(db_path)
    try:
        values = store.get_values(1)
        assert values is not None
        return json.loads(render_json(values))
    finally:
        store.close()


def test_field_order_is_the_spec_then_the_extras(stored_json: dict[str, object]) -> None:
    keys = list(stored_json)
    assert keys[: len(EXAMPLE)] == list(EXAMPLE)
    assert keys[len(EXAMPLE) : len(EXAMPLE) + 4] == ["trace_id", "span_id", "service_name", "route"]


def test_every_field_matches_the_example(stored_json: dict[str, object]) -> None:
    expected = dict(EXAMPLE)
    expected["request_headers"] = {**EXAMPLE["request_headers"], "Cookie": REDACTED}
    for name in ("id", "created_at", "updated_at"):
        expected.pop(name)
    for name, value in expected.items():
        assert stored_json[name] == value, name
    assert type(stored_json["duration"]) is float
    assert stored_json["id"] == 1


def test_store_assigned_fields(stored_json: dict[str, object]) -> None:
    created = stored_json["created_at"]
    assert isinstance(created, str) and created.endswith("Z") and "T" in created
    assert stored_json["updated_at"] == created
    assert stored_json["service_name"] == "test-service"
    assert isinstance(stored_json["trace_id"], str) and len(stored_json["trace_id"]) == 32
    assert isinstance(stored_json["span_id"], str) and len(stored_json["span_id"]) == 16
