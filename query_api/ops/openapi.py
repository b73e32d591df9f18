"""`/healthz`, `/readyz` and `/metrics` in the OpenAPI document (their `Route`s in `app.ROUTES` carry these)."""

from __future__ import annotations

from typing import Any

_READY = {
    "type": "object",
    "required": ["status"],
    "properties": {
        "status": {"type": "string", "enum": ["ok", "ready", "unavailable"]},
        "reasons": {
            "type": "array",
            "items": {"type": "string"},
            "description": "What keeps the service from taking traffic (503 only), in fixed words.",
        },
    },
}


def _json(description: str) -> dict[str, object]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Health"}}},
    }


HEALTH_OPERATIONS: dict[str, Any] = {
    "get": {
        "operationId": "health",
        "summary": "Liveness: 200 whenever the process answers (no authentication).",
        "security": [],
        "responses": {"200": _json("The process answers.")},
    }
}
READY_OPERATIONS: dict[str, Any] = {
    "get": {
        "operationId": "ready",
        "summary": "Readiness: store open and writable, writer running and not stalled, accounts loaded.",
        "security": [],
        "responses": {"200": _json("Ready for traffic."), "503": _json("Not ready; `reasons` says why.")},
    }
}
METRICS_OPERATIONS: dict[str, Any] = {
    "get": {
        "operationId": "prometheusMetrics",
        "summary": "Prometheus metrics, text format 0.0.4 (permission 3601, or a peer in REQLOG_METRICS_NETWORKS).",
        "responses": {
            "200": {
                "description": "The metrics.",
                "content": {"text/plain; version=0.0.4": {"schema": {"type": "string"}}},
            },
            "401": {"$ref": "#/components/responses/Unauthorized"},
            "403": {"$ref": "#/components/responses/Forbidden"},
        },
    }
}
SCHEMAS = {"Health": _READY}
