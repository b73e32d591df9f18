"""The OpenAPI 3.1 document served at `GET /api/openapi.json`, built from the route table.

Each route (`routing.Route`) carries its own operations and schemas, declared beside its handler;
`document_for(routes)` puts them together with the pieces every operation may refer to:
`#/components/schemas/{Error,FieldErrors}` (`{"detail": ...}` and DRF's field errors),
`#/components/responses/{Unauthorized,Forbidden,NotFound,NotAcceptable,ValidationError,ServerError,Throttled}`
and the security scheme `TokenAuth` (declared for every operation by default; give `"security": []`
to opt out).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

import orjson
from aiohttp import web

from query_api.errors import JSON
from query_api.keys import OPENAPI_KEY
from query_api.routing import Route

OPENAPI_PATH = "/api/openapi.json"


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": {"$ref": "#/components/schemas/Error"}}}}


def _unauthorized() -> dict[str, Any]:
    response = _error("Missing or invalid token (DRF's messages).")
    response["headers"] = {"WWW-Authenticate": {"schema": {"type": "string", "const": "Token"}}}
    return response


OPERATIONS = {
    "get": {
        "operationId": "openapi",
        "summary": "This document.",
        "security": [],
        "responses": {"200": {"description": "OpenAPI 3.1", "content": {JSON: {"schema": {"type": "object"}}}}},
    }
}


def _base_document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {"title": "reqlog", "version": "0.1.0", "description": "Request logs with DRF-compatible access."},
        "security": [{"TokenAuth": []}],
        "paths": {},
        "components": {
            "securitySchemes": {
                "TokenAuth": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "Authorization",
                    "description": "`Token <40 hex characters>`, as Django REST Framework.",
                }
            },  # fmt: skip
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["detail"],
                    "properties": {"detail": {"type": "string"}},
                    "additionalProperties": False,
                },
                "FieldErrors": {
                    "type": "object",
                    "additionalProperties": {"type": "array", "items": {"type": "string"}},
                },
            },
            "responses": {
                "Unauthorized": _unauthorized(),
                "Forbidden": _error("Authenticated without the permission."),
                "NotFound": _error("No such request log, an id that is not a 64-bit integer, or an invalid cursor."),
                "ServerError": _error('"A server error occurred."'),
                "NotAcceptable": _error(
                    "No media range in `Accept` matches application/json (checked before authentication, as DRF does)."
                ),
                "ValidationError": {
                    "description": "Invalid filter values, DRF's field errors.",
                    "content": {JSON: {"schema": {"$ref": "#/components/schemas/FieldErrors"}}},
                },
                "Throttled": {
                    "description": "Every SQL slot stayed busy; try again after `Retry-After` seconds.",
                    "headers": {"Retry-After": {"schema": {"type": "string"}}},
                    "content": {JSON: {"schema": {"$ref": "#/components/schemas/Error"}}},
                },
            },
        },
    }


def document_for(routes: Iterable[Route]) -> dict[str, Any]:
    """A fresh document describing `routes` (their operations, merged per path by method, and schemas)."""
    doc = _base_document()
    for route in routes:
        if route.operations:
            doc["paths"].setdefault(route.path, {}).update(copy.deepcopy(dict(route.operations)))
        for name, schema in route.schemas.items():
            doc["components"]["schemas"][name] = copy.deepcopy(schema)
    return doc


async def serve_document(request: web.Request) -> web.Response:
    """`GET /api/openapi.json` (public, like DRF's schema view by default)."""
    return web.Response(body=orjson.dumps(request.app[OPENAPI_KEY]), content_type=JSON)
