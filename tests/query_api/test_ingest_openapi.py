"""`POST /v1/traces` is in the OpenAPI document, and live answers match what it says."""

from __future__ import annotations

from typing import Any

import jsonschema
from aiohttp.test_utils import TestClient

from .harness import Tokens, auth


def resolve(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """The schema with the document's components available to `$ref`s."""
    return {**schema, "components": doc["components"]}


async def test_ingest_route_is_documented_and_answers_match(api_client: TestClient[Any, Any], tokens: Tokens) -> None:
    doc = await (await api_client.get("/api/openapi.json")).json()
    operation = doc["paths"]["/v1/traces"]["post"]
    assert {"200", "400", "401", "403", "413", "415", "503"} <= set(operation["responses"])
    assert set(operation["requestBody"]["content"]) == {"application/x-protobuf", "application/json"}

    accepted = await api_client.post(
        "/v1/traces", data=b'{"resourceSpans": []}', headers={**auth(tokens.admin), "Content-Type": "application/json"}
    )
    assert accepted.status == 200
    schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
    jsonschema.validate(await accepted.json(), resolve(doc, schema))

    refused = await api_client.post(
        "/v1/traces", data=b"<xml/>", headers={**auth(tokens.admin), "Content-Type": "application/xml"}
    )
    assert refused.status == 415
    schema = operation["responses"]["415"]["content"]["application/json"]["schema"]
    body = await refused.json()
    jsonschema.validate(body, resolve(doc, schema))
    assert "application/xml" in body["message"]
