"""Request logs for the viewer's tests, sent through real OTLP: ordinary traffic and hostile values.

Every hostile value tries to run script if a page ever puts it into HTML, an attribute or a URL
unescaped: each payload sets `window.__xss` and opens a dialog, which the browser test fails on.
"""

from __future__ import annotations

import time
import urllib.request
from typing import Any

import orjson

from tests.otlp_payloads import pb_request, pb_span

SCRIPT = "<script>window.__xss=1;alert('script')</script>"
IMG = '"><img src=x onerror="window.__xss=1;alert(1)">'
JS_URL = "javascript:window.__xss=1;alert('url')"
TEMPLATE = "{{7*7}}{% raw %}${7*7}#{7*7}"
EVIL_USER = SCRIPT + IMG
EVIL_EXCEPTION = "Evil" + TEMPLATE
ROUTES = ("/api/items/{id}", "/api/orders", "/health")
EVIL_TRACE = bytes(range(0xA0, 0xB0))


def ordinary(index: int, now_ns: int) -> Any:
    """A plausible request: routes, methods, statuses, bots and exceptions vary with `index`."""
    status = (200, 200, 201, 302, 404, 500)[index % 6]
    start = now_ns - (40 - index) * 7_000_000_000  # later index, later time: ids grow with time
    attributes: dict[str, Any] = {
        "http.request.method": ("GET", "POST", "GET", "DELETE")[index % 4],
        "url.path": f"/api/items/{index}" if index % 3 else "/api/orders",
        "url.scheme": "https",
        "http.route": ROUTES[0] if index % 3 else ROUTES[1],
        "http.response.status_code": status,
        "client.address": f"10.0.{index % 4}.{index}",
        "user_agent.original": "Googlebot/2.1 (+http://www.google.com/bot.html)"
        if index % 7 == 0
        else "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:145.0) Gecko/20100101 Firefox/145.0",
        "http.request.header.host": ("shop.example",),
        "http.response.header.content_type": ("application/json",),
        "http.response.body.content": orjson.dumps({"ok": status < 400, "index": index}).decode(),
        "reqlog.response.body.content_type": "application/json",
    }
    if index % 2:
        attributes.update({"user.id": str(index), "user.name": f"user{index}"})
    events = []
    if status == 500:
        events.append(("exception", {"exception.type": "ValueError", "exception.message": f"bad {index}"}))
    return pb_span(
        attributes,
        trace_id=(index + 1).to_bytes(16, "big"),
        span_id=(index + 1).to_bytes(8, "big"),
        start=start,
        end=start + (index + 1) * 3_000_000,
        events=events,
    )


def hostile(now_ns: int, span_number: int = 1) -> Any:
    """A request whose path, headers, bodies, user and exception carry script, markup and template syntax."""
    body = {"comment": SCRIPT, "link": JS_URL, "template": TEMPLATE, "html": IMG}
    attributes: dict[str, Any] = {
        "http.request.method": "POST",
        "url.path": "/xss/" + SCRIPT + IMG,
        "url.query": "next=javascript:alert(1)&q=%3Cscript%3Ealert(1)%3C/script%3E",
        "url.scheme": "https",
        "http.route": JS_URL,
        "http.response.status_code": 500,
        "client.address": "10.9.9.9",
        "user_agent.original": "Mozilla/5.0 " + IMG,
        "http.request.header.host": ("shop.example",),
        "http.request.header.x_evil": (IMG + SCRIPT,),
        "http.request.header.authorization": ("Token 0123456789abcdef0123456789abcdef01234567",),
        "http.request.body.content": orjson.dumps(body).decode(),
        "reqlog.request.body.content_type": "application/json",
        "http.response.body.content": "<html>" + SCRIPT + IMG + TEMPLATE + "</html>",
        "reqlog.response.body.content_type": "text/html",
        "user.id": "7",
        "user.name": EVIL_USER,
        "user.full_name": IMG,
    }
    exception = {
        "exception.type": EVIL_EXCEPTION,
        "exception.message": SCRIPT + IMG + JS_URL + TEMPLATE,
        "exception.stacktrace": "Traceback (most recent call last):\n  " + SCRIPT + "\n" + TEMPLATE,
    }
    start = now_ns - 2_000_000_000
    return pb_span(
        attributes,
        trace_id=EVIL_TRACE,
        span_id=span_number.to_bytes(8, "big"),
        start=start,
        end=start + 45_000_000,
        events=[("exception", exception)],
    )


def send(port: int, token: str, spans: list[Any], service: str = "shop") -> None:
    """POST the spans to the service's `/v1/traces` as OTLP protobuf, as an SDK exporter does."""
    body = pb_request(spans, service=service).SerializeToString()
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/v1/traces",
        data=body,
        headers={"Content-Type": "application/x-protobuf", "Authorization": f"Token {token}"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200, response.status


def now_ns() -> int:
    return time.time_ns()
