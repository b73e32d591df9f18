"""The list endpoint's filters, each against hand-picked rows, and DRF's field-error answers."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from exporter.row import RequestLog

from .harness import Tokens, auth, make_row

URL = "/api/metrics/request_logs"


@pytest.fixture
def rows() -> list[RequestLog]:
    # ids 1..6 in this order; index i starts at 14:00:0i.
    return [
        make_row(0),
        make_row(1, user_id="42", username="alice", user_full_name="Alice A", method="POST", status_code=201,
                 endpoint="/api/orders", route="/api/orders", ip="10.0.0.2"),
        make_row(2, user_id="u-abc", username="bob", status_code=404, is_bot=True, device_type="other",
                 ip="2001:db8::1"),
        make_row(3, status_code=500, exception_type="ValueError", exception_message="bad", duration=1.5,
                 endpoint="/api/orders/7", route="/api/orders/{id}"),
        make_row(4, device_type="mobile", status_code=302, endpoint="/admin/login", user_id="42", username="alice"),
        make_row(5, status_code=503, exception_type="TimeoutError", duration=0.75, method="DELETE",
                 service_name="billing"),
    ]  # fmt: skip


async def _ids(client: TestClient[Any, Any], token: str, query: str) -> list[int]:
    response = await client.get(f"{URL}?{query}", headers=auth(token))
    assert response.status == 200, await response.text()
    page = await response.json()
    assert set(page) == {"next", "previous", "results"}
    return [row["id"] for row in page["results"]]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", [6, 5, 4, 3, 2, 1]),
        ("user=0", [6, 4, 1]),
        ("user=42", [5, 2]),
        ("user=u-abc", [3]),
        ("username=alice", [5, 2]),
        ("ip=10.0.0.2", [2]),
        ("ip=2001:0db8:0::1", [3]),
        ("method=post", [2]),
        ("status_code=404", [3]),
        ("status=5xx", [6, 4]),
        ("status=2xx", [2, 1]),
        ("endpoint=/api/orders", [2]),
        ("endpoint_prefix=/api/orders", [4, 2]),
        ("endpoint_prefix=%25", []),  # no pattern characters: % is a literal
        ("route=/api/orders/%7Bid%7D", [4]),
        ("device_type=mobile", [5]),
        ("is_bot=true", [3]),
        ("is_bot=False", [6, 5, 4, 2, 1]),
        ("has_exception=1", [6, 4]),
        ("has_exception=false", [5, 3, 2, 1]),
        ("exception_type=TimeoutError", [6]),
        (f"trace_id={2:032X}", [3]),
        ("started_after=2025-11-19T14:00:03Z", [6, 5, 4]),
        ("started_after=2025-11-19T15:00:03%2B01:00", [6, 5, 4]),
        ("started_before=2025-11-19T14:00:02", [2, 1]),
        ("started_after=2025-11-19%2014:00:03%2B0000", [6, 5, 4]),  # Django's looser pattern
        ("started_after=2025-11-19T14:00:01Z&started_before=2025-11-19T14:00:03Z", [3, 2]),
        ("min_duration=0.5", [6, 4]),
        ("max_duration=0.5", [5, 3, 2, 1]),
        ("min_duration=0.75&max_duration=0.75", [6]),  # both bounds inclusive
        ("min_duration=0.5&max_duration=1", [6]),
        ("service_name=billing", [6]),
        ("service_name=shop", [5, 4, 3, 2, 1]),
        ("service_name=Billing", []),  # exact, case-sensitive
        ("exception_type=ValueError", [4]),
        ("route=/api/orders", [2]),
        ("status_code=99999999999", []),  # any integer is valid; beyond the column it matches nothing
        ("status_code=404.00", [3]),  # DRF's IntegerField drops a zero fraction
        ("method=GET&status=5xx", [4]),
        ("unknown=1&format=json", [6, 5, 4, 3, 2, 1]),  # unknown parameters are ignored
        ("status_code=&user=", [6, 5, 4, 3, 2, 1]),  # empty values mean no filter
        ("status_code=abc&status_code=404", [3]),  # the last value wins, as Django's QueryDict.get
    ],
)
async def test_filter(api_client: TestClient[Any, Any], tokens: Tokens, query: str, expected: list[int]) -> None:
    assert await _ids(api_client, tokens.staff_viewer, query) == expected


@pytest.mark.parametrize(
    ("query", "errors"),
    [
        ("status_code=abc", {"status_code": ["A valid integer is required."]}),
        ("status_code=12.5", {"status_code": ["A valid integer is required."]}),
        ("status=6xx", {"status": ['"6xx" is not a valid choice.']}),
        ("ip=not-an-ip", {"ip": ["Enter a valid IPv4 or IPv6 address."]}),
        ("min_duration=nan", {"min_duration": ["A valid number is required."]}),
        ("max_duration=slow", {"max_duration": ["A valid number is required."]}),
        ("started_after=0001-01-01T00:00%2B01:00", {"started_after": ["Datetime value out of range."]}),
        (
            "started_after=2025-11-19T14:00:03z",  # lower-case z: neither fromisoformat nor Django's pattern
            {
                "started_after": [
                    "Datetime has wrong format. Use one of these formats instead: "
                    "YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z]."
                ]
            },
        ),
        ("max_duration=inf", {"max_duration": ["A valid number is required."]}),
        ("min_duration=" + "1" * 1001, {"min_duration": ["String value too large."]}),
        ("status_code=1e3", {"status_code": ["A valid integer is required."]}),
        ("status=5XX", {"status": ['"5XX" is not a valid choice.']}),  # DRF's ChoiceField is exact
        ("method=%20", {"method": ["This field may not be blank."]}),
        ("service_name=a%00b", {"service_name": ["Null characters are not allowed."]}),
        ("is_bot=%20true", {"is_bot": ["Must be a valid boolean."]}),
        (
            "max_duration=x&service_name=%00&min_duration=y",
            {
                "service_name": ["Null characters are not allowed."],
                "min_duration": ["A valid number is required."],
                "max_duration": ["A valid number is required."],
            },
        ),
        (
            "status_code=x&is_bot=maybe&started_after=yesterday&min_duration=fast&has_exception=2",
            {
                "status_code": ["A valid integer is required."],
                "is_bot": ["Must be a valid boolean."],
                "has_exception": ["Must be a valid boolean."],
                "started_after": [
                    "Datetime has wrong format. Use one of these formats instead: "
                    "YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z]."
                ],
                "min_duration": ["A valid number is required."],
            },
        ),
    ],
)
async def test_invalid_filter_is_400_field_errors(
    api_client: TestClient[Any, Any], tokens: Tokens, query: str, errors: dict[str, list[str]]
) -> None:
    response = await api_client.get(f"{URL}?{query}", headers=auth(tokens.admin))
    assert response.status == 400
    assert response.content_type == "application/json"
    assert await response.json() == errors


async def test_results_have_the_retrieve_shape(api_client: TestClient[Any, Any], tokens: Tokens) -> None:
    response = await api_client.get(f"{URL}?user=42&page_size=1", headers=auth(tokens.admin))
    page = await response.json()
    detail = await api_client.get(f"{URL}/5", headers=auth(tokens.admin))
    assert page["results"] == [await detail.json()]
    assert page["results"][0]["user"] == {"id": 42, "username": "alice", "full_name": ""}
