"""Sign-in, sessions and access: passwords and tokens, cookie flags, expiry, sign-out, revocation, permissions."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from query_api import ServiceSettings, create_app
from query_api.accounts.db import AccountDB
from query_api.ui.passwords import hash_password, verify_password
from query_api.ui.session import SESSION_COOKIE, Session, decode_session, new_session
from query_api.ui.signin import safe_next
from tests.hermetic import clean_environ
from tests.query_api.conftest import ClientFactory
from tests.query_api.harness import Tokens

from .helpers import page_csrf, sign_in

PASSWORD = "a long enough password"


@pytest.fixture
async def client(aiohttp_client: ClientFactory, settings: ServiceSettings, tokens: Tokens) -> TestClient[Any, Any]:
    with AccountDB(settings.accounts_path) as db:
        db.set_password("alice", hash_password(PASSWORD))
    return await aiohttp_client(create_app(settings))


async def test_the_root_leads_to_the_viewer_and_pages_ask_for_sign_in(client: TestClient[Any, Any]) -> None:
    root = await client.get("/", allow_redirects=False)
    assert (root.status, root.headers["Location"]) == (302, "/ui/")
    for path in ("/ui/", "/ui/logs/1", "/ui/dashboard", "/ui/sql", "/ui/rows?after_id=0"):
        answer = await client.get(path, allow_redirects=False)
        assert answer.status == 302 and answer.headers["Location"].startswith("/ui/login?next="), path


async def test_password_sign_in_sets_a_strict_http_only_cookie(client: TestClient[Any, Any]) -> None:
    answer = await sign_in(client, username="alice", password=PASSWORD)
    assert (answer.status, answer.headers["Location"]) == (303, "/ui/")
    cookie = next(c for c in answer.headers.getall("Set-Cookie") if c.startswith(SESSION_COOKIE + "="))
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Secure" not in cookie
    assert "Max-Age=43200" in cookie  # 12 hours
    listing = await client.get("/ui/")
    assert listing.status == 200 and "alice" in await listing.text()


async def test_behind_https_the_cookie_is_secure(client: TestClient[Any, Any]) -> None:
    form = await client.get("/ui/login", headers={"X-Forwarded-Proto": "https"})
    assert "Secure" in form.headers["Set-Cookie"]


async def test_wrong_password_and_unknown_name_fail_alike(client: TestClient[Any, Any]) -> None:
    wrong = await sign_in(client, username="alice", password="not the password")
    unknown = await sign_in(client, username="nobody", password=PASSWORD)
    no_password_set = await sign_in(client, username="root", password="")
    bodies = [await answer.text() for answer in (wrong, unknown, no_password_set)]
    assert [answer.status for answer in (wrong, unknown, no_password_set)] == [400, 400, 400]
    assert all("Wrong username or password" in body for body in bodies)
    assert SESSION_COOKIE not in client.session.cookie_jar.filter_cookies(client.make_url("/"))


async def test_a_token_signs_in_without_appearing_in_any_url(client: TestClient[Any, Any], tokens: Tokens) -> None:
    answer = await sign_in(client, token=tokens.staff_viewer)
    assert answer.status == 303 and tokens.staff_viewer not in answer.headers["Location"]
    listing = await client.get("/ui/")
    assert tokens.staff_viewer not in await listing.text()
    assert tokens.staff_viewer not in answer.headers.get("Set-Cookie", "")


async def test_revoking_the_token_ends_its_session(
    client: TestClient[Any, Any], tokens: Tokens, settings: ServiceSettings
) -> None:
    await sign_in(client, token=tokens.staff_viewer)
    assert (await client.get("/ui/", allow_redirects=False)).status == 200
    with AccountDB(settings.accounts_path) as db:
        db.revoke(tokens.staff_viewer)
    await _until_redirected(client)


async def test_deactivating_the_account_ends_its_session(
    client: TestClient[Any, Any], settings: ServiceSettings
) -> None:
    await sign_in(client, username="alice", password=PASSWORD)
    with AccountDB(settings.accounts_path) as db:
        db.set_active("alice", False)
    await _until_redirected(client)


async def _until_redirected(client: TestClient[Any, Any]) -> None:
    # The service notices the accounts file changed within its refresh interval (0.25 s).
    for _ in range(100):
        answer = await client.get("/ui/", allow_redirects=False)
        if answer.status == 302:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the session outlived the change")


async def test_sign_out_ends_the_session_even_for_a_replayed_cookie(
    client: TestClient[Any, Any], tokens: Tokens
) -> None:
    await sign_in(client, token=tokens.admin)
    cookie = client.session.cookie_jar.filter_cookies(client.make_url("/"))[SESSION_COOKIE].value
    csrf = await page_csrf(client)
    answer = await client.post("/ui/logout", data={"csrf": csrf}, allow_redirects=False)
    assert (answer.status, answer.headers["Location"]) == (303, "/ui/login")
    client.session.cookie_jar.clear()
    replayed = await client.get("/ui/", cookies={SESSION_COOKIE: cookie}, allow_redirects=False)
    assert replayed.status == 302


async def test_sign_out_needs_the_csrf_token(client: TestClient[Any, Any], tokens: Tokens) -> None:
    await sign_in(client, token=tokens.admin)
    refused = await client.post("/ui/logout", data={"csrf": "forged"}, allow_redirects=False)
    assert refused.status == 403 and "CSRF" in await refused.text()
    assert (await client.get("/ui/", allow_redirects=False)).status == 200  # still signed in


async def test_sign_in_needs_the_form_s_csrf_token(client: TestClient[Any, Any], tokens: Tokens) -> None:
    answer = await client.post("/ui/login", data={"token": tokens.admin, "csrf": "x"}, allow_redirects=False)
    assert answer.status == 403 and SESSION_COOKIE not in answer.cookies


@pytest.mark.parametrize(
    ("who", "path", "status"),
    [
        ("staff_plain", "/ui/", 403),  # staff without 3601
        ("viewer_not_staff", "/ui/", 403),  # 3601 without staff: the API's rule
        ("ingest_only", "/ui/", 403),  # 3603 but not 3601
        ("ingest_only", "/ui/sql", 200),
        ("staff_viewer", "/ui/", 200),
        ("staff_viewer", "/ui/dashboard", 200),
        ("staff_viewer", "/ui/sql", 403),  # 3601 without 3603
        ("admin", "/ui/sql", 200),
    ],
)
async def test_pages_need_the_api_s_permissions(
    client: TestClient[Any, Any], tokens: Tokens, who: str, path: str, status: int
) -> None:
    await sign_in(client, token=getattr(tokens, who))
    answer = await client.get(path, allow_redirects=False)
    assert answer.status == status
    if status == 403:
        body = await answer.text()
        assert answer.content_type == "text/html" and "Not allowed" in body and "Traceback" not in body


def test_sessions_expire_and_cannot_be_altered() -> None:
    key = b"k" * 32
    session = new_session(7, None, now=1000.0, lifetime_seconds=60)
    cookie = session.encode(key)
    assert decode_session(key, cookie, now=1059.0) == session
    assert decode_session(key, cookie, now=1060.0) is None  # expired
    assert decode_session(b"other key" * 4, cookie, now=1000.0) is None
    forged = Session(1, None, session.session_id, session.expires).encode(b"guess" * 8)
    assert decode_session(key, forged, now=1000.0) is None
    body, signature = cookie.split(".")
    assert decode_session(key, body + "." + signature[:-1] + ("A" if signature[-1] != "A" else "B"), now=1000.0) is None
    assert decode_session(key, "garbage", now=1000.0) is None


def test_passwords_are_scrypt_hashes() -> None:
    stored = hash_password(PASSWORD)
    assert stored.startswith("scrypt$32768$8$1$") and PASSWORD not in stored
    assert verify_password(PASSWORD, stored)
    assert not verify_password(PASSWORD + "x", stored)
    assert not verify_password(PASSWORD, None)
    assert not verify_password(PASSWORD, "scrypt$broken")
    assert hash_password(PASSWORD) != stored  # salted


def test_after_sign_in_only_viewer_paths_are_followed() -> None:
    assert safe_next("/ui/logs/3?x=1") == "/ui/logs/3?x=1"
    for hostile in ("https://evil.example/", "//evil.example/ui/", "/api/metrics/sql", "/ui\\..\\x", "", None):
        assert safe_next(hostile) == "/ui/"


def test_the_password_command_sets_a_password_sign_in_accepts(tmp_path: Path) -> None:
    db = tmp_path / "reqlog.duckdb"
    with AccountDB(tmp_path / "accounts.sqlite3") as accounts:
        accounts.create_account("carol", is_staff=True)
    done = _password_command(db, "carol", "a fine password\n")
    assert done.returncode == 0 and "password set" in done.stderr
    with AccountDB(tmp_path / "accounts.sqlite3") as accounts:
        found = accounts.password_hash("carol")
    assert found is not None and verify_password("a fine password", found[1])
    short = _password_command(db, "carol", "short\n")
    assert short.returncode == 2 and "at least 8 characters" in short.stderr


def _password_command(db: Path, username: str, typed: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "query_api.cli", "account", "password", username, "--db", str(db)]
    return subprocess.run(command, input=typed, capture_output=True, text=True, timeout=60, env=clean_environ())


def test_an_old_accounts_file_gains_the_password_column(tmp_path: Path) -> None:
    path = tmp_path / "accounts.sqlite3"
    con = sqlite3.connect(path)
    con.execute(
        "CREATE TABLE accounts (id INTEGER PRIMARY KEY AUTOINCREMENT, username TEXT NOT NULL UNIQUE, "
        "full_name TEXT NOT NULL DEFAULT '', is_active INTEGER NOT NULL DEFAULT 1, is_staff INTEGER NOT NULL "
        "DEFAULT 0, is_superuser INTEGER NOT NULL DEFAULT 0, created_at TEXT NOT NULL)"
    )
    con.execute("INSERT INTO accounts (username, created_at) VALUES ('old', '2025-01-01')")
    con.commit()
    con.close()
    with AccountDB(path) as accounts:
        accounts.set_password("old", hash_password(PASSWORD))
        found = accounts.password_hash("old")
    assert found is not None and found[0].username == "old" and verify_password(PASSWORD, found[1])
