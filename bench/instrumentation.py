"""Per-request cost of reqlog's middleware against stock `OpenTelemetryMiddleware`, in one run.

A raw ASGI loop (no server, no sockets) drives the same Starlette app four ways: bare; wrapped in
stock `OpenTelemetryMiddleware` (defaults, `.*` request and response header capture); the same with
its send/receive spans excluded (for reference); wrapped in `RequestLogMiddleware` with full
capture (every header, 1 KiB JSON request and response bodies, a user from a resolver). All share
one TracerProvider + BatchSpanProcessor whose exporter does nothing, so the figures are the
request-path cost. Variants run interleaved in rounds; each figure is the median of the rounds.

Goal (issue 3): reqlog's added cost (its time minus bare) <= 0.35x the stock middleware's, as the
median over rounds of each round's ratio.
Run: `.venv/bin/python -m bench instrumentation` (REQLOG_BENCH_QUICK=1 for a smoke run).
"""

from __future__ import annotations

import asyncio
import gc
import json
import time
from collections.abc import Sequence
from typing import Any

from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bench.common import QUICK, median, report
from instrumentation import RequestLogMiddleware

# Many short rounds rather than a few long ones: on a shared machine the load shifts within seconds,
# and each round's variants run back to back (in rotating order), so a round's ratio sees one load.
REQUESTS = 100 if QUICK else 250
ROUNDS = 10 if QUICK else 60
GOAL_RATIO = 0.35


class _NullExporter(SpanExporter):
    def __init__(self) -> None:
        self.spans = 0

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.spans += len(spans)
        return SpanExportResult.SUCCESS


def _payload(size: int) -> bytes:
    item = {"id": 12345, "name": "widget", "tags": ["a", "b", "c"], "price": 19.99, "active": True}
    items = []
    while len(json.dumps({"items": items}).encode()) < size:
        items.append(dict(item, id=len(items)))
    return json.dumps({"items": items}).encode()


REQUEST_BODY = _payload(1024)
RESPONSE_BODY = _payload(1024)


async def _endpoint(request: Request) -> Response:
    body = await request.body()
    assert len(body) == len(REQUEST_BODY)
    return Response(RESPONSE_BODY, media_type="application/json", headers={"cache-control": "no-store"})


def _app() -> Starlette:
    return Starlette(routes=[Route("/api/items/{item_id:int}", _endpoint, methods=["POST"])])


_HEADERS = [
    (b"host", b"127.0.0.1:8000"),
    (b"user-agent", b"Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:145.0) Gecko/20100101 Firefox/145.0"),
    (b"accept", b"application/json, text/plain, */*"),
    (b"accept-language", b"en-US,en;q=0.5"),
    (b"accept-encoding", b"gzip, deflate, br, zstd"),
    (b"content-type", b"application/json"),
    (b"content-length", str(len(REQUEST_BODY)).encode()),
    (b"origin", b"http://127.0.0.1:8000"),
    (b"connection", b"keep-alive"),
    (b"referer", b"http://127.0.0.1:8000/app/items"),
    (b"cookie", b"csrftoken=EqfXUxesM4u9XZc0UiptOMBL1mTRb8DA; sessionid=yf1pql5k3vvl6udi00fz1y5hzdriaur9"),
    (b"sec-fetch-dest", b"empty"),
    (b"sec-fetch-mode", b"cors"),
    (b"sec-fetch-site", b"same-origin"),
    (b"priority", b"u=0"),
]


def _scope() -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/api/items/42",
        "raw_path": b"/api/items/42",
        "root_path": "",
        "query_string": b"page=2&sort=name&tag=a&tag=b",
        "headers": list(_HEADERS),
        "client": ("127.0.0.1", 51234),
        "server": ("127.0.0.1", 8000),
    }


async def _run(app: Any, count: int) -> float:
    """Seconds per request over `count` requests through `app`."""
    sent: list[int] = []

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            sent.append(message["status"])

    start = time.perf_counter()
    for _ in range(count):
        delivered = False

        async def receive() -> dict[str, Any]:
            nonlocal delivered
            if delivered:
                return {"type": "http.disconnect"}
            delivered = True
            return {"type": "http.request", "body": REQUEST_BODY, "more_body": False}

        await app(_scope(), receive, send)
    elapsed = time.perf_counter() - start
    assert sent and all(status == 200 for status in sent), sent[:3]
    return elapsed / count


async def _measure() -> dict[str, list[float]]:
    exporter = _NullExporter()
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(exporter))
    variants = {
        "bare app": _app(),
        "stock OpenTelemetryMiddleware": OpenTelemetryMiddleware(
            _app(),
            tracer_provider=provider,
            http_capture_headers_server_request=[".*"],
            http_capture_headers_server_response=[".*"],
        ),
        "stock, send/receive spans excluded": OpenTelemetryMiddleware(
            _app(),
            tracer_provider=provider,
            http_capture_headers_server_request=[".*"],
            http_capture_headers_server_response=[".*"],
            exclude_spans=["receive", "send"],
        ),
        "RequestLogMiddleware, full capture": RequestLogMiddleware(
            _app(),
            tracer_provider=provider,
            user_resolver=lambda scope: ("17", "alice", "Alice Example"),
        ),
    }
    for app in variants.values():  # warm-up: imports, caches, first-call costs
        await _run(app, 200)
    times: dict[str, list[float]] = {name: [] for name in variants}
    order = list(variants)
    for round_number in range(ROUNDS):
        gc.collect()
        shift = round_number % len(order)
        for name in order[shift:] + order[:shift]:
            times[name].append(await _run(variants[name], REQUESTS))
    provider.shutdown()
    assert exporter.spans > 0
    return times


def main() -> None:
    times = asyncio.run(_measure())
    bare = median(times["bare app"])
    rows = []
    for name, values in times.items():
        per_request = median(values)
        rows.append(
            {
                "variant": name,
                "us_per_request": per_request * 1e6,
                "added_us": (per_request - bare) * 1e6,
                "min_us": min(values) * 1e6,
                "max_us": max(values) * 1e6,
            }
        )
    # The ratio is taken within each round (same seconds, same machine load) and then the median:
    # other work on a shared machine shifts whole rounds, which a ratio of overall medians would feel.
    ratios = [
        (ours - base) / (stock - base) if stock > base else float("inf")
        for base, stock, ours in zip(
            times["bare app"],
            times["stock OpenTelemetryMiddleware"],
            times["RequestLogMiddleware, full capture"],
            strict=True,
        )
    ]
    ratio = median(ratios)
    report(
        "instrumentation",
        rows,
        goals=[
            {
                "goal": "reqlog added cost / stock OpenTelemetryMiddleware added cost",
                "value": round(ratio, 3),
                "target": f"<= {GOAL_RATIO}",
                "ok": ratio <= GOAL_RATIO,
                "per_round": [round(r, 3) for r in ratios],
            }
        ],
    )


if __name__ == "__main__":
    main()
