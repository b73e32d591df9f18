"""The request logs' OpenAPI pieces: the `RequestLog` schema, the page and DRF metadata schemas,
the list's query parameters, and DRF's OPTIONS operation (used by `logs.views`' operations)."""

from __future__ import annotations

from typing import Any

from exporter.row import iter_columns
from query_api.errors import JSON
from query_api.logs.filters import PARAMETERS
from query_api.logs.pagination import MAX_PAGE_SIZE, PAGE_SIZE

_NULLABLE_STRING = {"type": ["string", "null"]}
# What a column's DuckDB type is in the API's JSON. A timestamp is DRF's ISO-8601 text; a JSON
# column any JSON value (objects, or a string for truncated or non-JSON bodies).
_JSON_TYPES: dict[str, dict[str, Any]] = {
    "VARCHAR": _NULLABLE_STRING,
    "BIGINT": {"type": ["integer", "null"]},
    "INTEGER": {"type": ["integer", "null"]},
    "DOUBLE": {"type": ["number", "null"]},
    "BOOLEAN": {"type": "boolean"},  # never NULL: the row's default is False
    "TIMESTAMP": {"type": ["string", "null"], "format": "date-time"},
    "JSON": {},
}
_USER_COLUMNS = ("user_id", "username", "user_full_name")  # served together, as `user`
_USER: dict[str, Any] = {
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
}
# `RequestLog` declares the spec's fields first, in the spec's order, up to this one; the fields
# after it are reqlog's additions, present in every answer but not required of the shape.
_LAST_SPEC_FIELD = "exception_traceback"


def request_log_schema() -> dict[str, Any]:
    """The `RequestLog` schema, derived from the row's fields (`exporter.row.iter_columns`)."""
    properties: dict[str, Any] = {}
    for name, sql_type, _ in iter_columns():
        if name in _USER_COLUMNS:
            properties.setdefault("user", _USER)
        elif name == "id":
            properties[name] = {"type": "integer"}  # assigned on insert: every served row has one
        else:
            properties[name] = _JSON_TYPES[sql_type]
    names = list(properties)
    return {"type": "object", "required": names[: names.index(_LAST_SPEC_FIELD) + 1], "properties": properties}


REQUEST_LOG: dict[str, Any] = request_log_schema()

_OCTET = "(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_IPV4_NETWORK = rf"^({_OCTET}\.){{3}}{_OCTET}/([0-9]|[12][0-9]|3[0-2])$"
# DRF's CharField refuses a NUL; with its default trimming, also text that is blank once stripped.
_TEXT = {"type": "string", "pattern": "^[^\\x00]*$"}
# (`\S` alone would match the NUL itself.)
_TRIMMED = {"type": "string", "pattern": "^[^\\x00]*[^\\x00\\s][^\\x00]*$"}
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
