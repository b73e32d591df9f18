"""`POST /v1/traces`'s OpenAPI operation (`OPERATIONS`) and the schemas it refers to (`SCHEMAS`).

The bodies are OTLP's own messages (opentelemetry-proto `ExportTraceServiceRequest` and
`ExportTraceServiceResponse`, errors as `google.rpc.Status`), in protobuf or in OTLP/JSON; the
document describes their JSON form and points at the specification for the rest.
"""

from __future__ import annotations

PROTOBUF = "application/x-protobuf"
JSON = "application/json"

_STATUS = {
    "description": "google.rpc.Status, in the request's encoding (JSON when the content type was refused).",
    "content": {
        JSON: {"schema": {"$ref": "#/components/schemas/RpcStatus"}},
        PROTOBUF: {"schema": {"type": "string", "format": "binary"}},
    },
}

OPERATIONS = {
    "post": {
        "operationId": "exportTraces",
        "summary": "OTLP/HTTP trace ingest (admin, or permission 3602).",
        "description": (
            "An `ExportTraceServiceRequest` (opentelemetry-proto), as `application/x-protobuf` or OTLP/JSON, "
            "optionally `Content-Encoding: gzip`. HTTP server spans become request-log rows; other spans are "
            "ignored and counted. The answer is sent only after the rows are committed; a span sent again is "
            "stored once. Malformed spans are rejected one by one (`partialSuccess`)."
        ),
        "requestBody": {
            "required": True,
            "content": {
                PROTOBUF: {"schema": {"type": "string", "format": "binary"}},
                JSON: {"schema": {"type": "object", "description": "OTLP/JSON ExportTraceServiceRequest"}},
            },
        },
        "responses": {
            "200": {
                "description": "Stored. `partialSuccess` says how many spans were rejected and why.",
                "content": {
                    JSON: {"schema": {"$ref": "#/components/schemas/ExportTraceServiceResponse"}},
                    PROTOBUF: {"schema": {"type": "string", "format": "binary"}},
                },
            },
            "400": {**_STATUS, "description": "A malformed payload; the message names what is wrong."},
            "401": {"$ref": "#/components/responses/Unauthorized"},
            "403": {"$ref": "#/components/responses/Forbidden"},
            "413": {**_STATUS, "description": "Larger than the limit after decompression (16 MiB by default)."},
            "415": {**_STATUS, "description": "Neither protobuf nor JSON, or an unsupported content encoding."},
            "503": {
                **_STATUS,
                "description": "The writer is behind: retry after the given number of seconds.",
                "headers": {"Retry-After": {"schema": {"type": "string"}}},
            },
        },
    }
}

SCHEMAS = {
    "RpcStatus": {
        "type": "object",
        "properties": {"code": {"type": "integer"}, "message": {"type": "string"}, "details": {"type": "array"}},
    },
    "ExportTraceServiceResponse": {
        "type": "object",
        "properties": {
            "partialSuccess": {
                "type": "object",
                "properties": {"rejectedSpans": {"type": "string"}, "errorMessage": {"type": "string"}},
            }
        },
    },
}
