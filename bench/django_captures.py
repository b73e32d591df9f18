"""What each variant of `bench/django.py` captured of a request, and the check that it did its work.

OTel-based variants (reqlog, stock OTel) export into `Spans`, which counts the spans and reads the
last one's attributes; the logging peers (drf-api-logger, silk) are read back from their own tables.
"""

from __future__ import annotations

import time
from typing import Any


class Spans:
    """Behind a BatchSpanProcessor: counts the spans exported and keeps the last one's attributes."""

    def __init__(self) -> None:
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

        self.count = 0
        self.last: dict[str, Any] = {}
        spans = self

        class Counting(SpanExporter):
            def export(self, batch: Any) -> SpanExportResult:
                spans.count += len(batch)
                spans.last = dict(batch[-1].attributes or {})
                return SpanExportResult.SUCCESS

        self.provider = TracerProvider()
        self.provider.add_span_processor(BatchSpanProcessor(Counting()))

    def captures(self, requests: int) -> list[str]:
        """What the last request's span holds; every request must have given a span."""
        self.provider.force_flush()
        assert self.count >= requests, f"{self.count} spans exported for {requests} requests"
        keys = list(self.last)
        found = [field for field, names in _SPAN_FIELDS.items() if any(key.startswith(names) for key in keys)]
        if "query" not in found and "?" in str(self.last.get("http.target", "")):
            found.append("query")
        return [*found, "duration"]


# What a request log holds, by the span attributes that carry it (stable and older OTel names).
_SPAN_FIELDS = {
    "method, path": ("http.request.method", "http.method"),
    "query": ("url.query",),
    "status": ("http.response.status_code", "http.status_code"),
    "route": ("http.route",),
    "request headers": ("http.request.header.",),
    "response headers": ("http.response.header.",),
    "request body": ("http.request.body.content",),
    "response body": ("http.response.body.content",),
    "user": ("user.id", "user.name", "enduser.id"),
    "client address": ("client.address", "net.peer.ip", "http.client_ip"),
    "user agent": ("user_agent.original", "http.user_agent"),
}


def peer_captures(variant: str) -> list[str]:
    """What a logging peer stored for the last request, read back from its own tables."""
    if variant == "drf_api_logger":
        from drf_api_logger.models import APILogsModel

        deadline = time.monotonic() + 15  # its thread writes in batches of 50, or every 10 s
        while (row := APILogsModel.objects.order_by("-id").first()) is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert row is not None, "drf-api-logger stored nothing"
        fields = {
            "method, path": bool(row.api and row.method),
            "query": "?" in row.api,
            "status": bool(row.status_code),
            "request headers": bool(row.headers),
            "request body": bool(row.body),
            "response body": bool(row.response),
            "client address": bool(row.client_ip_address),
            "user agent": "USER_AGENT" in row.headers,
            "duration": row.execution_time is not None,
        }
    else:
        from silk.models import Request

        request = Request.objects.order_by("-start_time").first()
        assert request is not None, "silk stored nothing"
        response = request.response
        fields = {
            "method, path": bool(request.path and request.method),
            "query": bool(request.query_params),
            "status": bool(response.status_code),
            "request headers": bool(request.encoded_headers),
            "response headers": bool(response.encoded_headers),
            "request body": bool(request.body or request.raw_body),
            "response body": bool(response.body or response.raw_body),
            "user agent": "user-agent" in request.encoded_headers.lower(),
            "duration": request.time_taken is not None,
            "SQL": request.queries.exists(),
        }
    return [field for field, present in fields.items() if present]
