"""Deterministic request-log rows for the SQL, stats, export and retention tests (issue 6)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path

from exporter.row import RequestLog
from exporter.store import SERVICE_DUCKDB_CONFIG, RequestLogStore

T0 = datetime(2025, 11, 19, 14, 0, 0, 123456)
ROUTES = ("/users/{id}", "/orders", "/health")


def make_row(i: int, *, started_at: datetime | None = None, **overrides: object) -> RequestLog:
    """Row number `i`: a spread of routes, methods, statuses, durations, bots and one exception in 7."""
    start = started_at or T0 + timedelta(minutes=7 * i)
    duration = 0.001 * (1 + i % 100)
    route = ROUTES[i % len(ROUTES)]
    fields: dict[str, object] = {
        "user_id": str(i % 5) if i % 4 else None,
        "username": f"user{i % 5}" if i % 4 else None,
        "user_full_name": f"User {i % 5}" if i % 4 else None,
        "ip": f"10.0.0.{i % 250}",
        "device": "Other",
        "device_type": ("pc", "mobile", "tablet")[i % 3],
        "is_bot": i % 10 == 0,
        "os": "Windows",
        "browser": "Googlebot" if i % 10 == 0 else "Firefox",
        "scheme": "https",
        "endpoint": route.replace("{id}", str(i)),
        "method": "POST" if i % 6 == 0 else "GET",
        "status_code": 500 if i % 7 == 0 else (404 if i % 11 == 0 else 200),
        "exception_type": "builtins.ValueError" if i % 7 == 0 else None,
        "exception_message": f"bad value {i}" if i % 7 == 0 else None,
        "exception_traceback": "Traceback (most recent call last):\n  ..." if i % 7 == 0 else None,
        "started_at": start,
        "finished_at": start + timedelta(seconds=duration),
        "duration": duration,
        "query_params": json.dumps({"page": str(i % 3)}),
        "body": json.dumps({"n": i}) if i % 6 == 0 else None,
        "response": json.dumps({"ok": True}),
        "request_headers": json.dumps({"User-Agent": "Firefox", "Accept": "*/*"}),
        "response_headers": json.dumps({"Content-Type": "application/json"}),
        "trace_id": f"{i:032x}",
        "span_id": f"{i:016x}",
        "service_name": "shop",
        "route": route,
        "request_body_size": 10 if i % 6 == 0 else None,
        "response_body_size": 11,
    }
    fields.update(overrides)
    return RequestLog(**fields)  # type: ignore[arg-type]


@contextmanager
def service_store(path: Path, rows: int = 0) -> Iterator[RequestLogStore]:
    """A store opened the way the service opens it (sandboxed instance), holding `rows` rows."""
    store = RequestLogStore(path, config=SERVICE_DUCKDB_CONFIG)
    try:
        if rows:
            store.insert_rows([make_row(i) for i in range(rows)])
        yield store
    finally:
        store.close()
