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

import orjson
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind, format_span_id, format_trace_id

from instrumentation import attributes as attr

from .bodies import decode_body, parse_query
from .headers import canonical_name, join_values
from .redaction import REDACTED, Redactor
from .row import RequestLog
from .useragent import classify

_EPOCH = datetime(1970, 1, 1)
_REQUEST_PREFIX_LEN = len(attr.REQUEST_HEADER_PREFIX)
_RESPONSE_PREFIX_LEN = len(attr.RESPONSE_HEADER_PREFIX)
_DEFAULT_REDACTOR = Redactor()


def span_to_row(span: ReadableSpan, redactor: Redactor = _DEFAULT_REDACTOR) -> RequestLog | None:
    """Flatten an SDK span; `None` when it is not an HTTP server span (no row to make)."""
    if span.kind is not SpanKind.SERVER or span.start_time is None or span.attributes is None:
        return None
    context = span.context
    service = span.resource.attributes.get(attr.SERVICE_NAME) if span.resource is not None else None
    return build_row(
        span.attributes,
        events=((event.name, event.attributes or {}) for event in span.events),
        start_ns=span.start_time,
        end_ns=span.end_time,
        trace_id=format_trace_id(context.trace_id) if context is not None else None,
        span_id=format_span_id(context.span_id) if context is not None else None,
        service_name=_text(service),
        redactor=redactor,
    )


def build_row(
    attributes: Mapping[str, Any],
    *,
    events: Iterable[tuple[str, Mapping[str, Any]]],
    start_ns: int,
    end_ns: int | None,
    trace_id: str | None,
    span_id: str | None,
    service_name: str | None,
    redactor: Redactor = _DEFAULT_REDACTOR,
) -> RequestLog | None:
    """The row for one server span's data; `None` when the span carries no HTTP method."""
    get = attributes.get
    method = _text(get(attr.HTTP_REQUEST_METHOD) or get(attr.HTTP_METHOD))
    if not method:
        return None
    request_headers, response_headers = _collect_headers(attributes, redactor)
    path, query = _path_and_query(get)
    user_agent = _text(get(attr.USER_AGENT_ORIGINAL) or get(attr.HTTP_USER_AGENT)) or _as_str(
        request_headers.get("User-Agent")
    )
    agent = classify(user_agent)
    exception_type, exception_message, traceback = _exception(events, get)
    user_id = _text(get(attr.USER_ID) or get(attr.ENDUSER_ID))
    username = _text(get(attr.USER_NAME))
    started_at = _timestamp(start_ns)
    finished_at = _timestamp(end_ns) if end_ns else started_at
    request_truncated = get(attr.REQUEST_BODY_TRUNCATED) is True
    response_truncated = get(attr.RESPONSE_BODY_TRUNCATED) is True
    return RequestLog(
        id=None,
        user_id=user_id,
        username=username,
        user_full_name=_text(get(attr.USER_FULL_NAME)) if (user_id or username) else None,
        ip=_text(get(attr.CLIENT_ADDRESS) or get(attr.HTTP_CLIENT_IP) or get(attr.NET_PEER_IP)),
        device=agent.device,
        device_type=agent.device_type,
        is_bot=agent.is_bot,
        os=agent.os,
        browser=agent.browser,
        scheme=_text(get(attr.URL_SCHEME) or get(attr.HTTP_SCHEME)),
        endpoint=path,
        method=method.upper(),
        status_code=_status(get(attr.HTTP_RESPONSE_STATUS_CODE) or get(attr.HTTP_STATUS_CODE)),
        exception_type=exception_type,
        started_at=started_at,
        finished_at=finished_at,
        duration=(finished_at - started_at).total_seconds(),
        created_at=None,
        updated_at=None,
        query_params=orjson.dumps(redactor.redact_value(parse_query(query or ""))).decode(),
        body=decode_body(
            get(attr.REQUEST_BODY_CONTENT),
            _text(get(attr.REQUEST_BODY_CONTENT_TYPE)) or _as_str(request_headers.get("Content-Type")),
            truncated=request_truncated,
            redactor=redactor,
        ),
        response=decode_body(
            get(attr.RESPONSE_BODY_CONTENT),
            _text(get(attr.RESPONSE_BODY_CONTENT_TYPE)) or _as_str(response_headers.get("Content-Type")),
            truncated=response_truncated,
            redactor=redactor,
        ),
        request_headers=orjson.dumps(request_headers).decode() if request_headers else None,
        response_headers=orjson.dumps(response_headers).decode() if response_headers else None,
        exception_message=exception_message,
        exception_traceback=traceback,
        trace_id=trace_id,
        span_id=span_id,
        service_name=service_name,
        route=_text(get(attr.HTTP_ROUTE)),
        request_body_size=_int(get(attr.REQUEST_BODY_SIZE)),
        response_body_size=_int(get(attr.RESPONSE_BODY_SIZE)),
        request_body_truncated=request_truncated,
        response_body_truncated=response_truncated,
    )


def _collect_headers(attributes: Mapping[str, Any], redactor: Redactor) -> tuple[dict[str, Any], dict[str, Any]]:
    request: dict[str, Any] = {}
    response: dict[str, Any] = {}
    for key, value in attributes.items():
        if key.startswith(attr.REQUEST_HEADER_PREFIX):
            target, name = request, canonical_name(key[_REQUEST_PREFIX_LEN:], request=True)
        elif key.startswith(attr.RESPONSE_HEADER_PREFIX):
            target, name = response, canonical_name(key[_RESPONSE_PREFIX_LEN:], request=False)
        else:
            continue
        if redactor.header_is_secret(name):
            target[name] = REDACTED
        else:
            target[name] = join_values(name, _strings(value))
    return request, response


def _path_and_query(get: Any) -> tuple[str | None, str | None]:
    path = _text(get(attr.URL_PATH))
    query = _text(get(attr.URL_QUERY))
    if path is None:
        # Older convention: `http.target` is the path (some SDKs append the query), `http.url` the URL.
        target = _text(get(attr.HTTP_TARGET))
        if target is not None:
            path, _, target_query = target.partition("?")
            query = query or target_query or None
        full = _text(get(attr.URL_FULL) or get(attr.HTTP_URL))
        if full is not None and (path is None or query is None):
            try:
                parts = urlsplit(full)
            except ValueError:
                parts = None
            if parts is not None:
                path = path or parts.path or None
                query = query or parts.query or None
    return path, query


def _exception(events: Iterable[tuple[str, Mapping[str, Any]]], get: Any) -> tuple[str | None, str | None, str | None]:
    for name, event_attributes in events:
        if name == attr.EXCEPTION_EVENT:
            return (
                _text(event_attributes.get(attr.EXCEPTION_TYPE)),
                _text(event_attributes.get(attr.EXCEPTION_MESSAGE)),
                _text(event_attributes.get(attr.EXCEPTION_STACKTRACE)),
            )
    error_type = _text(get(attr.ERROR_TYPE))
    # Instrumentations set `error.type` to the bare status code ("500") or "_OTHER" for plain
    # HTTP errors; that is no exception.
    if error_type and not error_type.isdigit() and error_type != "_OTHER":
        return error_type, None, None
    return None, None, None


def _timestamp(ns: int) -> datetime:
    return _EPOCH + timedelta(microseconds=int(ns) // 1000)


def _strings(value: Any) -> list[str]:
    if isinstance(value, list | tuple):
        return [s for s in (_text(v) for v in value) if s is not None]
    text = _text(value)
    return [] if text is None else [text]


def _as_str(value: Any) -> str | None:
    if isinstance(value, list):
        return value[0] if value else None
    return value if isinstance(value, str) else None


def _text(value: Any) -> str | None:
    """Any attribute value as text: `None` stays `None`, sequences are joined, bytes decoded."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", "replace")
    if isinstance(value, list | tuple):
        return ", ".join(s for s in (_text(v) for v in value) if s is not None)
    return str(value)


def _status(value: Any) -> int | None:
    code = _int(value)
    return code if code is not None and 0 <= code <= 999 else None


def _int(value: Any) -> int | None:
    """An integer that fits a BIGINT column, or `None`."""
    number: int | None = None
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        number = value
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    elif isinstance(value, str):
        try:
            number = int(value.strip())
        except ValueError:
            return None
    if number is None or not -(2**63) <= number < 2**63:
        return None
    return number
