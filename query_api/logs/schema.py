"""The request logs' OpenAPI pieces: the `RequestLog` schema, the page and DRF metadata schemas,
the list's query parameters, and DRF's OPTIONS operation (used by `logs.views`' operations)."""

from __future__ import annotations

from typing import Any

from exporter.row import JSON_COLUMNS
from query_api.errors import JSON
from query_api.logs.filters import PARAMETERS
from query_api.logs.pagination import MAX_PAGE_SIZE, PAGE_SIZE

_NULLABLE_STRING = {"type": ["string", "null"]}
_TIMESTAMP = {"type": ["string", "null"], "format": "date-time"}
_JSON_VALUE: dict[str, Any] = {}  # any JSON value (objects, or a string for truncated or non-JSON bodies)

REQUEST_LOG: dict[str, Any] = {
    "type": "object",
    "required": [
        "id",
        "user",
        "ip",
        "device",
        "device_type",
        "is_bot",
        "os",
        "browser",
        "scheme",
        "endpoint",
        "method",
        "status_code",
        "exception_type",
        "started_at",
        "finished_at",
        "duration",
        "created_at",
        "updated_at",
        "query_params",
        "body",
        "response",
        "request_headers",
        "response_headers",
        "exception_message",
        "exception_traceback",
    ],  # fmt: skip
    "properties": {
        "id": {"type": "integer"},
        "user": {
            "oneOf": [
                {"type": "null"},
                {
                    "type": "object",
                    "required": ["id", "username", "full_name"],
                    "properties": {
                        "id": {"type": ["integer", "string", "null"]},
                        "username": _NULLABLE_STRING,
                        "full_name": _NULLABLE_STRING,
                    },
                },
            ]
        },
        "ip": _NULLABLE_STRING,
        "device": _NULLABLE_STRING,
        "device_type": _NULLABLE_STRING,
        "is_bot": {"type": "boolean"},
        "os": _NULLABLE_STRING,
        "browser": _NULLABLE_STRING,
        "scheme": _NULLABLE_STRING,
        "endpoint": _NULLABLE_STRING,
        "method": _NULLABLE_STRING,
        "status_code": {"type": ["integer", "null"]},
        "exception_type": _NULLABLE_STRING,
        "started_at": _TIMESTAMP,
        "finished_at": _TIMESTAMP,
        "duration": {"type": ["number", "null"]},
        "created_at": _TIMESTAMP,
        "updated_at": _TIMESTAMP,
        **{name: _JSON_VALUE for name in sorted(JSON_COLUMNS)},
        "exception_message": _NULLABLE_STRING,
        "exception_traceback": _NULLABLE_STRING,
        "trace_id": _NULLABLE_STRING,
        "span_id": _NULLABLE_STRING,
        "service_name": _NULLABLE_STRING,
        "route": _NULLABLE_STRING,
        "request_body_size": {"type": ["integer", "null"]},
        "response_body_size": {"type": ["integer", "null"]},
        "request_body_truncated": {"type": "boolean"},
        "response_body_truncated": {"type": "boolean"},
    },
}

_OCTET = "(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_IPV4_NETWORK = rf"^({_OCTET}\.){{3}}{_OCTET}/([0-9]|[12][0-9]|3[0-2])$"
# DRF's CharField refuses a NUL; with its default trimming, also text that is blank once stripped.
_TEXT = {"type": "string", "pattern": "^[^\\x00]*$"}
_TRIMMED = {"type": "string", "pattern": "^[^\\x00]*\\S[^\\x00]*$"}
_PARAMETER_SCHEMAS: dict[str, dict[str, Any]] = {
    "user": {"type": "string", "description": "A user id; 0 selects anonymous requests."},
    "username": _TEXT,
    "endpoint": _TEXT,
    "endpoint_prefix": {**_TEXT, "description": "The endpoint starts with this text (no wildcards)."},
    "route": {**_TEXT, "description": "The route template, such as `/items/{id}`."},
    "service_name": {**_TEXT, "description": "The OpenTelemetry `service.name` of the app that served it."},
    "exception_type": _TEXT,
    "method": {**_TRIMMED, "description": "Case-insensitive."},
    "device_type": _TRIMMED,
    "trace_id": {**_TRIMMED, "description": "32 hex digits, case-insensitive."},
    "status_code": {"type": "integer", "description": "Any integer; one outside 32 bits matches nothing."},
    "status": {"type": "string", "enum": ["1xx", "2xx", "3xx", "4xx", "5xx"]},
    "is_bot": {"type": "boolean"},
    "has_exception": {"type": "boolean"},
    "started_after": {"type": "string", "format": "date-time"},
    "started_before": {"type": "string", "format": "date-time"},
    "min_duration": {"type": "number", "description": "Seconds, inclusive."},
    "max_duration": {"type": "number", "description": "Seconds, inclusive."},
    "ip": {
        "type": "string",
        # IPv6 networks (2001:db8::/32) are taken too; a pattern for them would be unreadable.
        "anyOf": [{"format": "ipv4"}, {"format": "ipv6"}, {"pattern": _IPV4_NETWORK}],
        "description": "An IP address in any spelling (::ffff:10.0.0.1 finds 10.0.0.1), or a network in CIDR "
        "notation (10.0.0.0/8).",
    },
}


# DRF's `?format=`: only JSON is rendered; any other format is a 404 "Not found.".
FORMAT = {"name": "format", "in": "query", "required": False, "schema": {"type": "string", "enum": ["json"]}}


def options_operation(operation_id: str, summary: str) -> dict[str, Any]:
    metadata = {"$ref": "#/components/schemas/Metadata"}
    return {
        "operationId": operation_id,
        "summary": summary,
        "responses": {
            "200": {"description": "DRF's view metadata.", "content": {JSON: {"schema": metadata}}},
            "401": {"$ref": "#/components/responses/Unauthorized"},
            "403": {"$ref": "#/components/responses/Forbidden"},
            "406": {"$ref": "#/components/responses/NotAcceptable"},
        },
    }


def list_parameters() -> list[dict[str, Any]]:
    names = ["user", *PARAMETERS]
    parameters = [
        {"name": name, "in": "query", "required": False, "schema": _PARAMETER_SCHEMAS.get(name, {"type": "string"})}
        for name in names
    ]
    parameters.append({"name": "cursor", "in": "query", "required": False, "schema": {"type": "string"}})
    parameters.append(FORMAT)
    parameters.append(
        {
            "name": "page_size",
            "in": "query",
            "required": False,
            "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE, "default": PAGE_SIZE},
        }
    )
    return parameters


SCHEMAS: dict[str, Any] = {
    "RequestLog": REQUEST_LOG,
    "Metadata": {
        "type": "object",
        "required": ["name", "description", "renders", "parses"],
        "properties": {
            "name": {"type": "string"},
            "description": {"type": "string"},
            "renders": {"type": "array", "items": {"type": "string"}},
            "parses": {"type": "array", "items": {"type": "string"}},
        },
    },
    "RequestLogPage": {
        "type": "object",
        "required": ["next", "previous", "results"],
        "properties": {
            "next": {"type": ["string", "null"]},
            "previous": {"type": ["string", "null"]},
            "results": {"type": "array", "items": {"$ref": "#/components/schemas/RequestLog"}},
        },
        "additionalProperties": False,
    },
}
COMMON_ERRORS = {
    "401": {"$ref": "#/components/responses/Unauthorized"},
    "403": {"$ref": "#/components/responses/Forbidden"},
    "406": {"$ref": "#/components/responses/NotAcceptable"},
    "500": {"$ref": "#/components/responses/ServerError"},
}
