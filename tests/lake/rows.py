"""Request-log rows for the lake tests: varied enough that a column served wrong shows."""

from __future__ import annotations

from datetime import datetime, timedelta

from exporter.row import RequestLog

BASE = datetime(2026, 3, 1, 12, 0, 0)


def make_rows(count: int, *, start: int = 0, day: datetime = BASE) -> list[RequestLog]:
    return [
        RequestLog(
            user_id=str(i % 7) if i % 3 else None,
            username=f"user{i % 7}" if i % 3 else None,
            ip=f"10.0.{i % 250}.{i % 13}",
            method=("GET", "POST", "DELETE")[i % 3],
            scheme="https",
            endpoint=f"/api/items/{i}?page={i % 4}",
            route="/api/items/{id}",
            status_code=(200, 201, 404, 500)[i % 4],
            exception_type="ValueError" if i % 4 == 3 else None,
            exception_message="bad value" if i % 4 == 3 else None,
            started_at=day + timedelta(seconds=i),
            finished_at=day + timedelta(seconds=i, milliseconds=3 + i % 50),
            duration=(3 + i % 50) / 1000,
            query_params=f'{{"page":"{i % 4}"}}',
            body=f'{{"n":{i},"text":"caf\\u00e9"}}' if i % 2 else None,
            response='{"ok":true}',
            request_headers='{"user-agent":"pytest"}',
            response_headers='{"content-type":"application/json"}',
            trace_id=f"{i + 1:032x}",
            span_id=f"{i + 1:016x}",
            service_name="shop",
            request_body_size=20 + i,
            response_body_size=11,
        )
        for i in range(start, start + count)
    ]
