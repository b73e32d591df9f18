"""Signing in to the viewer from an aiohttp test client (as a browser would: form, cookies, CSRF)."""

from __future__ import annotations

import re
from typing import Any

from aiohttp.test_utils import TestClient

_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def csrf_of(html: str) -> str:
    found = _CSRF.search(html)
    assert found, "no CSRF field in the page"
    return found.group(1)


async def sign_in(
    client: TestClient[Any, Any], *, token: str | None = None, username: str = "", password: str = ""
) -> Any:
    """Fetch the form, post it; return the POST's response (303 on success, not followed)."""
    form_page = await client.get("/ui/login")
    assert form_page.status == 200
    fields = {"csrf": csrf_of(await form_page.text()), "next": "/ui/", "username": username, "password": password}
    if token is not None:
        fields["token"] = token
    return await client.post("/ui/login", data=fields, allow_redirects=False)


async def page_csrf(client: TestClient[Any, Any], path: str = "/ui/") -> str:
    """The CSRF token the signed-in session's pages carry."""
    response = await client.get(path)
    assert response.status == 200, response.status
    return csrf_of(await response.text())
