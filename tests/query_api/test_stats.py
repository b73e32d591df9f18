"""`GET /api/metrics/request_logs/stats` on a real service: figures per group, access, DRF field errors."""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from exporter.row import RequestLog
from query_api import ServiceSettings

from .harness import Tokens, auth
from .sqldata import make_row

N = 300
STATS = "/api/metrics/request_logs/stats"


@pytest.fixture
def settings(db_path: Path) -> ServiceSettings:
    return ServiceSettings.from_env({}, db=db_path, port=0)


@pytest.fixture
def rows() -> list[RequestLog]:
    return [make_row(i) for i in range(N)] + [make_row(N, route=None, endpoint="/legacy")]


def _expected(rows: list[RequestLog], key: Any) -> dict[Any, dict[str, Any]]:
    groups: dict[Any, list[RequestLog]] = {}
    for row in rows:
        groups.setdefault(key(row), []).append(row)
    out = {}
    for name, members in groups.items():
        durations = sorted(r.duration for r in members if r.duration is not None)
        errors = sum(1 for r in members if (r.status_code or 0) >= 500 or r.exception_type is not None)
        cuts = statistics.quantiles(durations, n=100, method="inclusive") if len(durations) > 1 else durations * 99
        out[name] = {
            "count": len(members),
            "p50": statistics.median(durations),
            "p95": cuts[94],
            "p99": cuts[98],
            "errors": errors,
            "error_rate": errors / len(members),
        }
    return out


@pytest.mark.parametrize(
    ("group_by", "key"),
    [
        ("route", lambda r: r.route or r.endpoint),
        ("status_code", lambda r: r.status_code),
        ("method", lambda r: r.method),
        ("device_type", lambda r: r.device_type),
        ("endpoint", lambda r: r.endpoint),
    ],
)
async def test_figures_per_group(
    api_client: TestClient[Any, Any], tokens: Tokens, rows: list[RequestLog], group_by: str, key: Any
) -> None:
    response = await api_client.get(STATS, params={"group_by": group_by, "limit": "1000"}, headers=auth(tokens.admin))
    assert response.status == 200
    body = await response.json()
    assert body["group_by"] == group_by
    expected = _expected(rows, key)
    got = {item[group_by]: item for item in body["results"]}
    assert set(got) == set(expected)
    for name, figures in expected.items():
        item = got[name]
        assert item["count"] == figures["count"]
        assert item["errors"] == figures["errors"]
        for field in ("p50", "p95", "p99", "error_rate"):
            assert item[field] == pytest.approx(figures[field], abs=1e-6), (name, field)
    counts = [item["count"] for item in body["results"]]
    assert counts == sorted(counts, reverse=True)  # busiest first


async def test_default_group_and_time_window(api_client: TestClient[Any, Any], tokens: Tokens) -> None:
    params = {"started_after": "2025-11-19T16:00:00Z", "started_before": "2025-11-19T18:00:00+00:00"}
    response = await api_client.get(STATS, params=params, headers=auth(tokens.staff_viewer))
    body = await response.json()
    assert body["group_by"] == "route"
    assert body["started_after"] == "2025-11-19T16:00:00Z"
    # Rows every 7 minutes from 14:00:00.123456: minutes 126..238 of the day fall in [16:00, 18:00).
    in_window = [i for i in range(N) if 120 <= 7 * i + 0.002 < 240]
    assert sum(item["count"] for item in body["results"]) == len(in_window)


async def test_limit(api_client: TestClient[Any, Any], tokens: Tokens) -> None:
    response = await api_client.get(STATS, params={"group_by": "endpoint", "limit": "5"}, headers=auth(tokens.admin))
    assert len((await response.json())["results"]) == 5


async def test_access_rule(api_client: TestClient[Any, Any], tokens: Tokens) -> None:
    assert (await api_client.get(STATS)).status == 401
    assert (await api_client.get(STATS, headers=auth(tokens.staff_plain))).status == 403
    assert (await api_client.get(STATS, headers=auth(tokens.viewer_not_staff))).status == 403
    assert (await api_client.get(STATS, headers=auth(tokens.ingest_only))).status == 403
    assert (await api_client.get(STATS, headers=auth(tokens.staff_viewer))).status == 200
    assert (await api_client.get(STATS + "/", headers=auth(tokens.admin))).status == 200


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"group_by": "request_headers"}, {"group_by": ['"request_headers" is not a valid choice.']}),
        (
            {"group_by": "route; DROP TABLE request_logs"},
            {"group_by": ['"route; DROP TABLE request_logs" is not a valid choice.']},
        ),
        (
            {"started_after": "yesterday"},
            {
                "started_after": [
                    "Datetime has wrong format. Use one of these formats instead: "
                    "YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z]."
                ]
            },
        ),
        ({"limit": "x"}, {"limit": ["A valid integer is required."]}),
        ({"limit": "0"}, {"limit": ["Ensure this value is greater than or equal to 1."]}),
        ({"limit": "5000"}, {"limit": ["Ensure this value is less than or equal to 1000."]}),
    ],
)
async def test_bad_parameters_are_drf_field_errors(
    api_client: TestClient[Any, Any], tokens: Tokens, params: dict[str, str], expected: dict[str, list[str]]
) -> None:
    response = await api_client.get(STATS, params=params, headers=auth(tokens.admin))
    assert response.status == 400
    assert await response.json() == expected


async def test_every_bad_parameter_at_once(api_client: TestClient[Any, Any], tokens: Tokens) -> None:
    params = {"group_by": "x", "started_before": "nope", "limit": "-1"}
    response = await api_client.get(STATS, params=params, headers=auth(tokens.admin))
    assert set(await response.json()) == {"group_by", "started_before", "limit"}


async def test_does_not_shadow_retrieve(api_client: TestClient[Any, Any], tokens: Tokens) -> None:
    response = await api_client.get("/api/metrics/request_logs/1", headers=auth(tokens.admin))
    assert response.status == 200
    assert (await response.json())["id"] == 1
