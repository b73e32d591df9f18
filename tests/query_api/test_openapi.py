"""The OpenAPI 3.1 document: live responses validate against it, and schemathesis fuzzes the service."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import requests
import schemathesis
from aiohttp.test_utils import TestClient
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from schemathesis import GenerationMode

from exporter.row import RequestLog

from .harness import TOKEN_LINE, Service, Tokens, auth, make_row, seed

OWN_PATHS = {"/api/metrics/request_logs", "/api/metrics/request_logs/{id}", "/api/openapi.json"}


@pytest.fixture
def rows() -> list[RequestLog]:
    return [make_row(i, status_code=200 + i) for i in range(3)] + [
        make_row(3, user_id="7", username="u7", exception_type="KeyError", exception_traceback="Traceback ...")
    ]


def _resolve(doc: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        target: Any = doc
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def _validate(doc: dict[str, Any], path: str, status: int, headers: Any, body: Any) -> None:
    operation = doc["paths"][path]["get"]
    response = _resolve(doc, operation["responses"][str(status)])
    schema = response["content"]["application/json"]["schema"]
    # Validate with the document's components in reach, so `$ref`s inside resolve.
    jsonschema.Draft202012Validator({"components": doc["components"], **schema}).validate(body)
    for name, header in response.get("headers", {}).items():
        jsonschema.Draft202012Validator(header["schema"]).validate(headers[name])


async def test_document_is_openapi_31_and_loads(api_client: TestClient[Any, Any]) -> None:
    response = await api_client.get("/api/openapi.json")
    assert response.status == 200 and response.content_type == "application/json"
    doc = await response.json()
    assert doc["openapi"].startswith("3.1")
    assert OWN_PATHS <= set(doc["paths"])
    loaded = schemathesis.openapi.from_dict(doc)
    operations = [result.ok() for result in loaded.get_all_operations()]  # raises on an invalid operation
    assert {op.path for op in operations} >= OWN_PATHS
    jsonschema.Draft202012Validator.check_schema(doc["components"]["schemas"]["RequestLog"])


@pytest.mark.parametrize(
    ("path", "url", "who", "status"),
    [
        ("/api/metrics/request_logs/{id}", "/api/metrics/request_logs/4", "admin", 200),
        ("/api/metrics/request_logs/{id}", "/api/metrics/request_logs/1", "staff_viewer", 200),
        ("/api/metrics/request_logs/{id}", "/api/metrics/request_logs/1", None, 401),
        ("/api/metrics/request_logs/{id}", "/api/metrics/request_logs/1", "staff_plain", 403),
        ("/api/metrics/request_logs/{id}", "/api/metrics/request_logs/99", "admin", 404),
        ("/api/metrics/request_logs/{id}", "/api/metrics/request_logs/x", "admin", 404),
        ("/api/metrics/request_logs", "/api/metrics/request_logs?page_size=2", "admin", 200),
        ("/api/metrics/request_logs", "/api/metrics/request_logs?user=7", "admin", 200),
        ("/api/metrics/request_logs", "/api/metrics/request_logs?status=9xx", "admin", 400),
        ("/api/metrics/request_logs", "/api/metrics/request_logs", "inactive", 401),
        ("/api/metrics/request_logs", "/api/metrics/request_logs", "viewer_not_staff", 403),
        ("/api/metrics/request_logs", "/api/metrics/request_logs?cursor=bad", "admin", 404),
    ],
)
async def test_live_responses_match_the_document(
    api_client: TestClient[Any, Any], tokens: Tokens, path: str, url: str, who: str | None, status: int
) -> None:
    doc = await (await api_client.get("/api/openapi.json")).json()
    response = await api_client.get(url, headers=auth(getattr(tokens, who)) if who else {})
    assert response.status == status
    body = await response.json()
    _validate(doc, path, status, response.headers, body)
    if path.endswith("request_logs") and status == 200:
        assert body["results"], "the page should not be empty"


@pytest.fixture
def live_service(tmp_path: Path) -> Iterator[tuple[Service, str]]:
    db = tmp_path / "data" / "reqlog.duckdb"
    seed(db, [make_row(i, status_code=[200, 302, 404, 500][i % 4]) for i in range(20)])
    service = Service(db, tmp_path / "serve.log")
    try:
        token = TOKEN_LINE.findall(service.stdout())[0]
        yield service, token
    finally:
        service.stop(signal.SIGTERM)


def test_schemathesis_against_the_live_service(live_service: tuple[Service, str]) -> None:
    service, token = live_service
    base_url = f"http://127.0.0.1:{service.port}"
    schema = schemathesis.openapi.from_url(f"{base_url}/api/openapi.json")
    fuzzed = {"/api/metrics/request_logs", "/api/metrics/request_logs/{id}"}
    operations = [r.ok() for r in schema.get_all_operations() if r.ok().path in fuzzed]
    assert {op.path for op in operations} == fuzzed
    with requests.Session() as session:
        for operation in operations:

            @given(case=operation.as_strategy())
            @hypothesis_settings(max_examples=25, deadline=None, database=None, suppress_health_check=list(HealthCheck))
            def check(case: Any) -> None:
                response = case.call(base_url=base_url, session=session, headers={"Authorization": f"Token {token}"})
                case.validate_response(response)

            check()

            # Schema-violating input: DRF answers some of it leniently (a bad page_size falls back to
            # the default), so the rule here is only that nothing breaks the service.
            @given(case=operation.as_strategy(GenerationMode.NEGATIVE))
            @hypothesis_settings(max_examples=25, deadline=None, database=None, suppress_health_check=list(HealthCheck))
            def check_negative(case: Any) -> None:
                response = case.call(base_url=base_url, session=session, headers={"Authorization": f"Token {token}"})
                assert response.status_code < 500, response.text
                assert response.headers.get("content-type") == ["application/json"], response.headers

            check_negative()


def test_text_parameter_patterns_refuse_what_drf_refuses() -> None:
    """The document's patterns match exactly the values DRF's CharField takes (no NUL; not blank when trimmed)."""
    import re

    from query_api.logs.schema import _PARAMETER_SCHEMAS

    trimmed, text = _PARAMETER_SCHEMAS["device_type"]["pattern"], _PARAMETER_SCHEMAS["username"]["pattern"]
    for value, takes in (
        ("mobile", True),
        (" pc ", True),
        ("   ", False),
        ("", False),
        ("L\x00", False),
        ("\x00", False),
    ):
        assert (re.search(trimmed, value) is not None) is takes, repr(value)
    for value, takes in (("", True), ("  ", True), ("a\x00b", False)):
        assert (re.search(text, value) is not None) is takes, repr(value)
