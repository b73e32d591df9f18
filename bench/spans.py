"""Realistic request spans for benchmarks, made through the real OpenTelemetry SDK."""

from __future__ import annotations

import random

import orjson
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

USER_AGENTS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:145.0) Gecko/20100101 Firefox/145.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/142.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 "
    "Safari/605.1.15",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 "
    "Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (iPad; CPU OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 "
    "Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 15; Pixel 9) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/142.0 Mobile Safari/537.36",
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "curl/8.11.0",
    "python-requests/2.32.3",
]
ROUTES = ["/api/orders", "/api/orders/{id}", "/api/users/{id}", "/login", "/api/search", "/health", "/"]


def request_attributes(rng: random.Random, i: int) -> dict[str, object]:
    """One request's attributes as reqlog's instrumentation records them (~40 attributes)."""
    route = rng.choice(ROUTES)
    path = route.replace("{id}", str(rng.randrange(1, 10_000)))
    agent = rng.choice(USER_AGENTS)
    status = rng.choices([200, 201, 302, 404, 500], weights=[70, 10, 8, 8, 4])[0]
    body = orjson.dumps({"items": [{"sku": f"SKU-{n}", "qty": n} for n in range(12)], "note": "x" * 600}).decode()
    attributes: dict[str, object] = {
        "http.request.method": rng.choice(["GET", "GET", "GET", "POST"]),
        "url.scheme": "https",
        "url.path": path,
        "url.query": f"page={i % 7}&sort=desc&tag=a&tag=b",
        "http.route": route,
        "http.response.status_code": status,
        "client.address": f"10.{i % 256}.{(i // 256) % 256}.{rng.randrange(1, 255)}",
        "user_agent.original": agent,
        "http.request.body.content": body,
        "reqlog.request.body.content_type": "application/json",
        "http.request.body.size": len(body),
        "http.response.body.content": body,
        "reqlog.response.body.content_type": "application/json",
        "http.response.body.size": len(body),
    }
    if i % 3:
        attributes.update({"user.id": i % 500, "user.name": f"user{i % 500}", "user.full_name": f"User {i % 500}"})
    request_headers = {
        "host": "shop.example",
        "user_agent": agent,
        "accept": "application/json",
        "accept_encoding": "gzip, deflate, br, zstd",
        "accept_language": "en-US,en;q=0.5",
        "connection": "keep-alive",
        "content_type": "application/json",
        "content_length": str(len(body)),
        "cookie": "csrftoken=EqfXUxesM4u9XZc0UiptOMBL1mTRb8DA; sessionid=yf1pql5k3vvl6udi00fz1y5hzdriaur9",
        "authorization": "Token 0123456789abcdef0123456789abcdef01234567",
        "sec_fetch_dest": "empty",
        "sec_fetch_mode": "cors",
        "sec_fetch_site": "same-origin",
        "x_request_id": f"{i:032x}",
        "traceparent": f"00-{i:032x}-{i:016x}-01",
    }
    response_headers = {
        "content_type": "application/json",
        "content_length": str(len(body)),
        "vary": "Accept-Language, Cookie",
        "cache_control": "max-age=0, no-cache, no-store, must-revalidate, private",
        "x_frame_options": "DENY",
        "x_content_type_options": "nosniff",
        "referrer_policy": "same-origin",
        "cross_origin_opener_policy": "same-origin",
    }
    for name, value in request_headers.items():
        attributes["http.request.header." + name] = (value,)
    for name, value in response_headers.items():
        attributes["http.response.header." + name] = (value,)
    return attributes


def make_spans(count: int, *, seed: int = 7) -> list[ReadableSpan]:
    """`count` finished SERVER spans; every tenth records an exception."""
    rng = random.Random(seed)
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "bench-shop"}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("bench")
    for i in range(count):
        span = tracer.start_span("request", kind=SpanKind.SERVER, attributes=request_attributes(rng, i))
        if i % 10 == 0:
            try:
                raise KeyError(f"order {i}")
            except KeyError as exc:
                span.record_exception(exc)
        span.end()
    spans = list(memory.get_finished_spans())
    provider.shutdown()
    return spans
