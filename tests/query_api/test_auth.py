"""DRF's authentication and permission behaviour, row by row, against the live service.

Order: authenticate (401, always with `WWW-Authenticate: Token`), then permission (403, also for
ids that do not exist), then lookup (404).
"""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from exporter.row import RequestLog
from query_api.accounts.db import Account
from query_api.auth import PERM_INGEST, PERM_SQL, PERM_VIEW_LOGS, has_permission

from .harness import Tokens, auth, make_row

URL = "/api/metrics/request_logs/1"
LIST_URL = "/api/metrics/request_logs"
NOT_PROVIDED = "Authentication credentials were not provided."
FORBIDDEN = "You do not have permission to perform this action."


@pytest.fixture
def rows() -> list[RequestLog]:
    return [make_row(0)]


async def _detail(client: TestClient[Any, Any], url: str, headers: dict[str, str]) -> tuple[int, Any, Any]:
    response = await client.get(url, headers=headers)
    assert response.content_type == "application/json"
    return response.status, await response.json(), response.headers.get("WWW-Authenticate")


@pytest.mark.parametrize("url", [URL, LIST_URL])
@pytest.mark.parametrize(
    ("header", "detail"),
    [
        (None, NOT_PROVIDED),
        ("Basic dXNlcjpwYXNz", NOT_PROVIDED),
        ("Bearer abc", NOT_PROVIDED),
        ("", NOT_PROVIDED),
        ("Token", "Invalid token header. No credentials provided."),
        ("Token   ", "Invalid token header. No credentials provided."),
        ("Token abc def", "Invalid token header. Token string should not contain spaces."),
        ("Token " + "0" * 40, "Invalid token."),
        ("Token not-a-token", "Invalid token."),
    ],
)
async def test_401_rows(api_client: TestClient[Any, Any], url: str, header: str | None, detail: str) -> None:
    headers = {} if header is None else {"Authorization": header}
    status, body, challenge = await _detail(api_client, url, headers)
    assert (status, body, challenge) == (401, {"detail": detail}, "Token")


async def test_inactive_account_is_401(api_client: TestClient[Any, Any], tokens: Tokens) -> None:
    status, body, challenge = await _detail(api_client, URL, auth(tokens.inactive))
    assert (status, body, challenge) == (401, {"detail": "User inactive or deleted."}, "Token")


async def test_scheme_is_case_insensitive(api_client: TestClient[Any, Any], tokens: Tokens) -> None:
    status, body, _ = await _detail(api_client, URL, {"Authorization": f"token {tokens.admin}"})
    assert status == 200 and body["id"] == 1


@pytest.mark.parametrize("who", ["staff_plain", "viewer_not_staff", "ingest_only"])
@pytest.mark.parametrize("url", [URL, "/api/metrics/request_logs/999999", "/api/metrics/request_logs/abc", LIST_URL])
async def test_403_without_permission_even_for_missing_ids(
    api_client: TestClient[Any, Any], tokens: Tokens, who: str, url: str
) -> None:
    status, body, challenge = await _detail(api_client, url, auth(getattr(tokens, who)))
    assert (status, body, challenge) == (403, {"detail": FORBIDDEN}, None)


@pytest.mark.parametrize("who", ["admin", "staff_viewer"])
async def test_allowed_callers(api_client: TestClient[Any, Any], tokens: Tokens, who: str) -> None:
    status, body, _ = await _detail(api_client, URL, auth(getattr(tokens, who)))
    assert status == 200 and body["id"] == 1
    status, page, _ = await _detail(api_client, LIST_URL, auth(getattr(tokens, who)))
    assert status == 200 and [r["id"] for r in page["results"]] == [1]


@pytest.mark.parametrize(
    ("raw_id", "detail"),
    [
        ("999999", "No RequestLog matches the given query."),
        ("-5", "No RequestLog matches the given query."),
        (str(2**63 - 1), "No RequestLog matches the given query."),
        ("abc", "Not found."),
        ("1.5", "Not found."),
        ("1e3", "Not found."),
        ("%C2%B2", "Not found."),  # a superscript two: a digit to str.isdigit, not to int()
        # Django reads ids with int() and finds no row for one outside 64 bits.
        (str(2**63), "No RequestLog matches the given query."),
        (str(-(2**63) - 1), "No RequestLog matches the given query."),
        ("9" * 5000, "Not found."),  # past int()'s digit limit
    ],
)
async def test_404_rows(api_client: TestClient[Any, Any], tokens: Tokens, raw_id: str, detail: str) -> None:
    status, body, challenge = await _detail(api_client, f"/api/metrics/request_logs/{raw_id}", auth(tokens.admin))
    assert (status, body, challenge) == (404, {"detail": detail}, None)


def test_permission_rule() -> None:
    def account(**flags: Any) -> Account:
        return Account(id=1, username="u", **flags)

    admin = account(is_superuser=True)
    staff_3601 = account(is_staff=True, permissions=frozenset({PERM_VIEW_LOGS}))
    plain_3601 = account(permissions=frozenset({PERM_VIEW_LOGS}))
    plain_sql = account(permissions=frozenset({PERM_SQL, PERM_INGEST}))
    inactive_admin = account(is_superuser=True, is_active=False)
    assert [has_permission(a, PERM_VIEW_LOGS) for a in (admin, staff_3601, plain_3601, plain_sql)] == [
        True,
        True,
        False,
        False,
    ]
    # 3602 and 3603 need the code (staff or not), or admin.
    assert has_permission(plain_sql, PERM_SQL) and has_permission(plain_sql, PERM_INGEST)
    assert not has_permission(staff_3601, PERM_SQL)
    assert has_permission(admin, PERM_SQL)
    assert not any(has_permission(inactive_admin, code) for code in (PERM_VIEW_LOGS, PERM_INGEST, PERM_SQL))
