"""Every span attribute key a request-log span carries, named once.

`instrumentation` writes these keys and `exporter` reads them, so both sides import them from here
(imports flow query_api -> exporter -> instrumentation). The standard OpenTelemetry HTTP semantic
conventions come first, in both generations, so that spans from any OTel-instrumented server make
rows; the body keys have no released convention yet and follow the names semantic-conventions adopted.
"""

from __future__ import annotations

# Stable HTTP semantic conventions.
HTTP_REQUEST_METHOD = "http.request.method"
# The method as received when `http.request.method` is `_OTHER` (a method the SDK does not know).
HTTP_REQUEST_METHOD_ORIGINAL = "http.request.method_original"
URL_PATH = "url.path"
URL_QUERY = "url.query"
URL_SCHEME = "url.scheme"
URL_FULL = "url.full"
HTTP_RESPONSE_STATUS_CODE = "http.response.status_code"
CLIENT_ADDRESS = "client.address"
USER_AGENT_ORIGINAL = "user_agent.original"
HTTP_ROUTE = "http.route"
ERROR_TYPE = "error.type"

# The older generation (OTEL_SEMCONV_STABILITY_OPT_IN unset), still emitted by many SDKs.
HTTP_METHOD = "http.method"
HTTP_TARGET = "http.target"
HTTP_URL = "http.url"
HTTP_SCHEME = "http.scheme"
HTTP_STATUS_CODE = "http.status_code"
NET_PEER_IP = "net.peer.ip"
HTTP_CLIENT_IP = "http.client_ip"
HTTP_USER_AGENT = "http.user_agent"

# Header attributes: `<prefix><name>` with a tuple of strings as the value. OTel's Python
# instrumentation lowercases the name and turns `-` into `_`; the semantic conventions keep `-`.
REQUEST_HEADER_PREFIX = "http.request.header."
RESPONSE_HEADER_PREFIX = "http.response.header."

# Bodies (semantic-conventions `http.*.body.content`, in development) with their content type,
# original size in bytes and whether the captured content is a truncated prefix.
REQUEST_BODY_CONTENT = "http.request.body.content"
REQUEST_BODY_SIZE = "http.request.body.size"
REQUEST_BODY_CONTENT_TYPE = "reqlog.request.body.content_type"
REQUEST_BODY_TRUNCATED = "reqlog.request.body.truncated"
RESPONSE_BODY_CONTENT = "http.response.body.content"
RESPONSE_BODY_SIZE = "http.response.body.size"
RESPONSE_BODY_CONTENT_TYPE = "reqlog.response.body.content_type"
RESPONSE_BODY_TRUNCATED = "reqlog.response.body.truncated"

# Identity (semantic conventions `user.*`, with `enduser.id` as the older fallback).
USER_ID = "user.id"
USER_NAME = "user.name"
USER_FULL_NAME = "user.full_name"
ENDUSER_ID = "enduser.id"

# Exceptions are span events named "exception" with these attributes.
EXCEPTION_EVENT = "exception"
EXCEPTION_TYPE = "exception.type"
EXCEPTION_MESSAGE = "exception.message"
EXCEPTION_STACKTRACE = "exception.stacktrace"

# Resource attribute naming the instrumented service.
SERVICE_NAME = "service.name"

# Added by the instrumentation (issue 3).
NETWORK_PROTOCOL_VERSION = "network.protocol.version"
# A failure inside reqlog's own capture code: an event with the `exception.*` attributes, named
# apart from `exception` so the row's exception columns still mean "the app raised".
CAPTURE_ERROR_EVENT = "reqlog.capture_error"
