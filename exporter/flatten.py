"""A finished HTTP server span -> one `RequestLog` row.

`build_row` works on plain values (an attribute mapping, events as `(name, attributes)` pairs,
nanosecond times, hex ids), so the in-process exporter (`span_to_row`, from the SDK's
`ReadableSpan`) and the OTLP receiver (from protobuf or OTLP/JSON) share it and make the same row.
Both generations of the HTTP semantic conventions are read, stable names first. Attribute values
are never trusted: any type, any size, and missing data becomes `None`, never an exception.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind

from instrumentation import attributes as attr

from .attribute_values import first_str, integer, status, text
from .bodies import decode_body
from .canonical import canonical_values
from .header_attributes import collect_headers, headers_json_columns
from .limits import cap_fields, cap_values
from .redaction import Redactor
from .row import RequestLog
from .speedups import query_params_json, read_attributes
from .useragent import classify

_EPOCH = datetime(1970, 1, 1)
_MICROSECOND = timedelta(microseconds=1)
_DEFAULT_REDACTOR = Redactor()


def span_to_row(span: ReadableSpan, redactor: Redactor = _DEFAULT_REDACTOR) -> RequestLog | None:
    """Flatten an SDK span; `None` when it is not an HTTP server span (no row to make)."""
    values = span_values(span, redactor)
    return None if values is None else RequestLog(*values)


def span_values(span: ReadableSpan, redactor: Redactor = _DEFAULT_REDACTOR) -> tuple[Any, ...] | None:
    """`span_to_row` as a tuple in column order, for batch writers (`RequestLogStore.insert_values`).

    Building the frozen dataclass costs ~4 us, a third of flattening a span; the writer needs no
    object.
    """
    arguments = span_arguments(span, redactor)
    return None if arguments is None else build_values(*arguments)


def span_arguments(span: ReadableSpan, redactor: Redactor = _DEFAULT_REDACTOR) -> tuple[Any, ...] | None:
    """The arguments of `build_values` for an SDK span, by position; `None` for no server span."""
    start_ns = span.start_time
    attributes = span.attributes
    if span.kind is not SpanKind.SERVER or start_ns is None or attributes is None:
        return None
    # The SDK wraps its attribute dict twice (a proxy over BoundedAttributes); `copy()` hands back a
    # plain dict, and every lookup after that is a dict lookup.
    plain = attributes.copy() if hasattr(attributes, "copy") else dict(attributes)
    context = span.context
    # `span.events` copies the SDK's locked event list into a tuple (~0.7 us); most spans have none,
    # which the list itself (or whatever sequence a ReadableSpan was built with) tells for less.
    events = span.events if getattr(span, "_events", True) else ()
    return (
        plain,
        ((event.name, event.attributes or {}) for event in events) if events else (),
        start_ns,
        span.end_time,
        # What format_trace_id/format_span_id give, in a third of the time.
        context.trace_id.to_bytes(16, "big").hex() if context is not None else None,
        context.span_id.to_bytes(8, "big").hex() if context is not None else None,
        _service_name(span.resource),
        redactor,
    )


_last_resource: tuple[Resource | None, str | None] = (None, None)


def _service_name(resource: Resource | None) -> str | None:
    # A process's spans share one Resource object: remember the last one's name.
    global _last_resource
    last, name = _last_resource
    if resource is not last:
        name = text(resource.attributes.get(attr.SERVICE_NAME)) if resource is not None else None
        _last_resource = (resource, name)
    return name


def build_row(attributes: Mapping[str, Any], **span_data: Any) -> RequestLog | None:
    """The row for one server span's data; `None` when the span carries no HTTP method.

    Takes the arguments of `build_values` (events, times, ids, service name, redactor).
    """
    values = build_values(attributes, **span_data)
    return None if values is None else RequestLog(*values)


def build_values(
    attributes: Mapping[str, Any],
    events: Iterable[tuple[str, Mapping[str, Any]]],
    start_ns: int,
    end_ns: int | None,
    trace_id: str | None,
    span_id: str | None,
    service_name: str | None,
    redactor: Redactor = _DEFAULT_REDACTOR,
) -> tuple[Any, ...] | None:
    """One server span's row as a tuple in `RequestLog` column order; `None` without an HTTP method.

    `events` are `(name, attributes)` pairs, times are nanoseconds since the epoch, ids lowercase
    hex. The shared path of the in-process exporter (`span_values`, which passes its arguments by
    position: keywords cost a little per span) and OTLP ingest.
    """
    # Bodies past the ingest's own cap are cut here, before decoding, and flagged (`limits`).
    fields = cap_fields(read_attributes(attributes, *_FIELDS))
    (method, user_agent, user_id, username, full_name, ip, scheme, path, query, route, status_code,
     request_body, request_type, request_size, request_truncated,
     response_body, response_type, response_size, response_truncated, error_type) = fields  # fmt: skip
    if not method:
        return None
    request_headers, response_headers = headers_json_columns(attributes, redactor)
    if path is None:
        path, query = _old_path_and_query(attributes.get, query)
    if method == "_OTHER" or (ip and ":" in ip) or (path and "%" in path):  # else all canonical already
        method, ip, path = canonical_values(attributes, method, ip, path)
    if (
        not user_agent
        or (request_body is not None and not request_type)
        or (response_body is not None and not response_type)
    ):
        # A span without the plain attributes (from other instrumentations): read them from the headers.
        request, response = collect_headers(attributes, redactor)
        user_agent = user_agent or first_str(request.get("User-Agent"))
        request_type = request_type or first_str(request.get("Content-Type"))
        response_type = response_type or first_str(response.get("Content-Type"))
    agent = classify(user_agent)
    # Most spans have no events and no error.type: no exception to look for.
    exception_type, exception_message, traceback = _exception(events, error_type) if events or error_type else _NONE3
    start_us = int(start_ns) // 1000
    end_us = int(end_ns) // 1000 if end_ns else start_us
    started_at = _EPOCH + _MICROSECOND * start_us  # the fastest way to a datetime (~0.3 us)
    finished_at = _EPOCH + _MICROSECOND * end_us
    request_truncated = request_truncated is True
    response_truncated = response_truncated is True
    # Integers as SDKs record them skip the general coercions (attribute_values.status, .integer).
    if type(status_code) is not int or not 0 <= status_code <= 999:
        status_code = status(status_code)
    if type(request_size) is not int or not 0 <= request_size < 2**63:
        request_size = integer(request_size)
    if type(response_size) is not int or not 0 <= response_size < 2**63:
        response_size = integer(response_size)
    # In `RequestLog` field order; over-long text and header columns cut (`limits`).
    return cap_values((
        None,  # id
        user_id,
        username,
        full_name if (user_id or username) else None,  # user_full_name
        ip,
        agent.device,  # device
        agent.device_type,  # device_type
        agent.is_bot,  # is_bot
        agent.os,  # os
        agent.browser,  # browser
        scheme,
        path,  # endpoint
        method.upper(),  # method
        status_code,
        exception_type,
        started_at,
        finished_at,
        (end_us - start_us) / 1_000_000,  # duration, as timedelta.total_seconds() computes it
        None,  # created_at
        None,  # updated_at
        query_params_json(query, redactor),  # query_params
        decode_body(request_body, request_type, truncated=request_truncated, redactor=redactor),  # body
        decode_body(response_body, response_type, truncated=response_truncated, redactor=redactor),  # response
        request_headers,
        response_headers,
        exception_message,
        traceback,  # exception_traceback
        trace_id,
        span_id,
        service_name,
        route,
        request_size,  # request_body_size
        response_size,  # response_body_size
        request_truncated,  # request_body_truncated
        response_truncated,  # response_body_truncated
    ))  # fmt: skip


# The attributes a row reads, each a field: its keys, the stable convention's first (the first
# one set wins, as `get(a) or get(b)`), and whether its value is made text (`attribute_values.text`).
_FIELD_TABLE: tuple[tuple[tuple[str, ...], bool], ...] = (
    ((attr.HTTP_REQUEST_METHOD, attr.HTTP_METHOD), True),
    ((attr.USER_AGENT_ORIGINAL, attr.HTTP_USER_AGENT), True),
    ((attr.USER_ID, attr.ENDUSER_ID), True),
    ((attr.USER_NAME,), True),
    ((attr.USER_FULL_NAME,), True),
    ((attr.CLIENT_ADDRESS, attr.HTTP_CLIENT_IP, attr.NET_PEER_IP), True),
    ((attr.URL_SCHEME, attr.HTTP_SCHEME), True),
    ((attr.URL_PATH,), True),
    ((attr.URL_QUERY,), True),
    ((attr.HTTP_ROUTE,), True),
    ((attr.HTTP_RESPONSE_STATUS_CODE, attr.HTTP_STATUS_CODE), False),
    ((attr.REQUEST_BODY_CONTENT,), False),
    ((attr.REQUEST_BODY_CONTENT_TYPE,), True),
    ((attr.REQUEST_BODY_SIZE,), False),
    ((attr.REQUEST_BODY_TRUNCATED,), False),
    ((attr.RESPONSE_BODY_CONTENT,), False),
    ((attr.RESPONSE_BODY_CONTENT_TYPE,), True),
    ((attr.RESPONSE_BODY_SIZE,), False),
    ((attr.RESPONSE_BODY_TRUNCATED,), False),
    ((attr.ERROR_TYPE,), True),
)
_NONE3 = (None, None, None)
_FIELDS = (tuple(keys for keys, _ in _FIELD_TABLE), tuple(as_text for _, as_text in _FIELD_TABLE))


def _old_path_and_query(get: Any, query: str | None) -> tuple[str | None, str | None]:
    """Path and query from the older convention, for a span without `url.path`.

    `http.target` is the path (some SDKs append the query), `http.url` the whole URL.
    """
    path = None
    target = text(get(attr.HTTP_TARGET))
    if target is not None:
        path, _, target_query = target.partition("?")
        query = query or target_query or None
    full = text(get(attr.URL_FULL) or get(attr.HTTP_URL))
    if full is not None and (path is None or query is None):
        try:
            parts = urlsplit(full)
        except ValueError:
            parts = None
        if parts is not None:
            path = path or parts.path or None
            query = query or parts.query or None
    return path, query


def _exception(
    events: Iterable[tuple[str, Mapping[str, Any]]], error_type: str | None
) -> tuple[str | None, str | None, str | None]:
    for name, event_attributes in events:
        if name == attr.EXCEPTION_EVENT:
            return (
                text(event_attributes.get(attr.EXCEPTION_TYPE)),
                text(event_attributes.get(attr.EXCEPTION_MESSAGE)),
                text(event_attributes.get(attr.EXCEPTION_STACKTRACE)),
            )
    # Instrumentations set `error.type` to the bare status code ("500") or "_OTHER" for plain
    # HTTP errors; that is no exception.
    if error_type and not error_type.isdigit() and error_type != "_OTHER":
        return error_type, None, None
    return None, None, None
