"""reqlog against a real Django REST Framework app serving the same rows to the same callers.

Every case goes to both services; the test asserts the same status, the same body and the same
headers a client can rely on. Cursors are opaque and differ by implementation, so a page's
`next`/`previous` are compared by presence here and by the pages they lead to in
`test_cursor_walks_match`. `DELIBERATELY_DIFFERENT` names the cases where reqlog differs on
purpose, with the reason and what reqlog answers instead.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from tests.drf_reference.pair import Pair, start_pair

DETAIL = "/api/metrics/request_logs/{}"
LIST = "/api/metrics/request_logs"
RELIED_ON = (
    "content-type",
    "www-authenticate",
    "allow",
    "vary",
    "x-content-type-options",
    "x-frame-options",
    "referrer-policy",
    "cross-origin-opener-policy",
)
BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


@dataclasses.dataclass(frozen=True)
class Case:
    name: str
    path: str
    method: str = "GET"
    token: str | None = "admin"  # a caller kind from `CALLERS`, or None
    authorization: bytes | None = None  # a raw header, instead of `token`
    accept: str | None = None


# case name -> (why reqlog differs, the status reqlog answers instead)
DELIBERATELY_DIFFERENT: dict[str, tuple[str, int]] = {
    "accept text/html": ("reqlog has no browsable API: HTML is not acceptable", 406),
    "accept browser": ("a browser's Accept gets DRF's HTML browsable API; reqlog answers JSON (*/* matches)", 200),
    "format=api": ("?format=api selects DRF's browsable API, which reqlog has not", 404),
    "OPTIONS detail": ("the metadata's `renders` lists only application/json: reqlog renders no HTML", 200),
    "OPTIONS detail/": ("the metadata's `renders` lists only application/json: reqlog renders no HTML", 200),
    "OPTIONS list": ("the metadata's `renders` lists only application/json: reqlog renders no HTML", 200),
    "OPTIONS list/": ("the metadata's `renders` lists only application/json: reqlog renders no HTML", 200),
    "OPTIONS missing": ("the metadata's `renders` lists only application/json: reqlog renders no HTML", 200),
    "OPTIONS bad id": ("the metadata's `renders` lists only application/json: reqlog renders no HTML", 200),
}

IDS = ["1", "2", "3", "5", "8", "20", "21", "0", "-1", "+1", "01", "-0", "%31", "%201", "1%20",
       str(2**63 - 1), str(2**63), str(-(2**63)), str(-(2**63) - 1), str(2**64), "9" * 40, "9" * 5000,
       "abc", "1.0", "1e3", "1_0", "0x1", "%D9%A1", "null", "%25"]  # fmt: skip
AUTHS: dict[str, bytes | None] = {
    "no header": None,
    "empty header": b"",
    "basic": b"Basic cm9vdDpzZWNyZXQ=",
    "bearer": b"Bearer abc",
    "tokenx": b"Tokens abc",
    "keyword only": b"Token",
    "double space": b"Token  abc",
    "two words": b"Token abc def",
    "unknown": b"Token 0123456789abcdef0123456789abcdef01234567",
    "latin-1 utf8": "Token caf\u00e9".encode(),
    "beyond latin-1": "Token \u043a\u043b\u044e\u0447".encode(),
    "emoji": "Token \U0001f511".encode(),
    "raw latin-1 byte": b"Token caf\xe9",
    "comma": b"Token a,b",
    "tab": b"Token\tabc",
}
CALLER_KINDS = ["admin", "admin_not_staff", "staff_3601", "staff", "not_staff_3601", "inactive_staff_3601",
                "inactive_admin", "staff_ingest"]  # fmt: skip
METHODS = ["GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE", "TRACE", "PURGE"]
ACCEPTS = {
    "accept */*": "*/*",
    "accept json": "application/json",
    "accept application/*": "application/*",
    "accept json indent=4": "application/json; indent=4",
    "accept json indent=0": "application/json; indent=0",
    "accept json indent=20": "application/json; indent=20",
    "accept json indent=abc": "application/json; indent=abc",
    "accept */* indent=2": "*/*; indent=2",
    "accept quoted indent": 'application/json; indent="3"',
    "accept indent beats q": "application/json;q=0.9, application/json; indent=2",
    "accept 64 ranges first": ", ".join(["text/plain"] * 64 + ["application/json"]),
    "accept empty": "",
    "accept json;q=0.5,xml": "application/json;q=0.5, application/xml",
    "accept xml": "application/xml",
    "accept text/html": "text/html",
    "accept browser": BROWSER_ACCEPT,
    "accept garbage": "garbage",
    "accept text/plain": "text/plain",
}
FILTERS = [
    "", "user=0", "user=7", "user=8", "user=07", "user=abc", "username=django", "username=nobody", "ip=127.0.0.1",
    "ip=2001:db8::1", "ip=not-an-ip", "method=post", "method=DELETE", "status_code=404", "status_code=abc",
    "status_code=12.0", "status_code=12.5", "status_code=99999999999", "status_code=%201", "status=5xx",
    "status=2xx", "status=6xx", "status=5XX", "endpoint=/shop/orders", "endpoint_prefix=/shop/orders",
    "endpoint_prefix=/admin", "endpoint_prefix=%25", "route=/shop/orders/%7Bid%7D", "service_name=checkout",
    "service_name=nope", "device_type=mobile", "is_bot=true", "is_bot=True", "is_bot=0", "is_bot=tRuE",
    "is_bot=maybe", "has_exception=yes", "has_exception=false", "exception_type=ValueError",
    "trace_id=00000000000000000000000000000abd", "trace_id=00000000000000000000000000000ABD",
    "started_after=2025-11-19T14:55:40Z", "started_after=2025-11-19T15:55:40%2B01:00",
    "started_before=2025-11-19T14:55:36", "started_after=yesterday", "started_before=2025-13-01",
    "min_duration=0.1", "min_duration=abc", "min_duration=nan", "min_duration=inf", "max_duration=0.05",
    "max_duration=x", "min_duration=0.05&max_duration=0.1", "status_code=x&is_bot=x&started_after=x",
    "max_duration=x&min_duration=x&service_name=", "username=%00", "unknown=1", "method=get&method=post",
    "page_size=3", "page_size=0", "page_size=-1", "page_size=abc", "page_size=1000", "cursor=abc",
    "cursor=cD0x", "cursor=", "format=json", "format=xml", "format=", "status_code=1e3", "status_code=12.00%20",
    "status_code=-12", "status_code=" + "9" * 1001, "min_duration=" + "1" * 1001, "min_duration=1e400",
    "min_duration=%201", "method=%20", "device_type=%20mobile%20", "is_bot=%20true", "trace_id=%20",
    "service_name=%20checkout", "route=%00", "started_after=2025-11-19", "started_after=2025-11-19T14:55:40z",
    "started_after=%202025-11-19T14:55:40Z", "started_after=2025-11-19%2014:55:40", "started_after=20251119T145540Z",
    "started_after=0001-01-01T00:00:00%2B01:00", "started_before=9999-12-31T23:59:59-01:00",
    "started_after=2025-11-19T14:55:40.123456789Z", "started_after=2025-11-19T14:55", "started_after=2025-W47-3",
]  # fmt: skip


def _cases() -> Iterator[Case]:
    for shape in IDS:
        for slash in ("", "/"):
            yield Case(f"id {shape}{slash}", DETAIL.format(shape) + slash)
    for target, path in (("detail", DETAIL.format(1)), ("missing", DETAIL.format(999)), ("list", LIST)):
        for name, raw in AUTHS.items():
            yield Case(f"auth {name} {target}", path, token=None, authorization=raw)
        for kind in CALLER_KINDS:
            yield Case(f"caller {kind} {target}", path, token=kind)
        yield Case(f"lower-case keyword {target}", path, token="admin:token")
        yield Case(f"upper-case keyword {target}", path, token="admin:TOKEN")
        yield Case(f"token with trailing junk {target}", path, token="admin:junk")
    targets = {"detail": DETAIL.format(1), "detail/": DETAIL.format(1) + "/", "list": LIST, "list/": LIST + "/",
               "missing": DETAIL.format(999), "bad id": DETAIL.format("abc")}  # fmt: skip
    for target, path in targets.items():
        for method in METHODS:
            yield Case(f"{method} {target}", path, method=method)
            yield Case(f"{method} {target} anonymous", path, method=method, token=None)
            yield Case(f"{method} {target} staff", path, method=method, token="staff")
    for name, accept in ACCEPTS.items():
        yield Case(name, DETAIL.format(1), accept=accept)
        if name not in DELIBERATELY_DIFFERENT:
            yield Case(f"{name} anonymous", DETAIL.format(1), accept=accept, token=None)
            yield Case(f"{name} list", LIST, accept=accept)
    for query in ("format=json", "format=xml", "format=api", "format="):
        yield Case(query, f"{DETAIL.format(1)}?{query}")
        if query != "format=api":
            yield Case(f"{query} anonymous", f"{DETAIL.format(1)}?{query}", token=None)
            yield Case(f"{query} missing", f"{DETAIL.format(999)}?{query}")
    yield Case("format=xml with accept json", f"{DETAIL.format(1)}?format=xml", accept="application/json")
    yield Case("format=json with accept xml", f"{DETAIL.format(1)}?format=json", accept="application/xml")
    for query in FILTERS:
        yield Case(f"list ?{query}", f"{LIST}?{query}")
    yield Case("list filter anonymous", f"{LIST}?status_code=abc", token=None)
    yield Case("list filter staff", f"{LIST}?status_code=abc", token="staff")


CASES = list(_cases())
assert len({c.name for c in CASES}) == len(CASES), "case names must be unique"
assert set(DELIBERATELY_DIFFERENT) <= {c.name for c in CASES}


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    yield from start_pair(Path(tmp_path_factory.mktemp("drf-pair")))


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=30) as client:
        yield client


def _headers(case: Case, tokens: dict[str, str]) -> dict[str, bytes]:
    headers: dict[str, bytes] = {}
    if case.token is not None:
        kind, _, variant = case.token.partition(":")
        key = tokens[kind]
        value = {"": f"Token {key}", "token": f"token {key}", "TOKEN": f"TOKEN {key}", "junk": f"Token {key}x"}
        headers["Authorization"] = value[variant].encode()
    elif case.authorization is not None:
        headers["Authorization"] = case.authorization
    if case.accept is not None:
        headers["Accept"] = case.accept.encode()
    return headers


def _body(response: httpx.Response) -> bytes:
    """The body's bytes; for a cursor page, with its links replaced by whether they are there."""
    if response.content.startswith(b'{"next":'):
        # Cursor links differ by implementation; orjson keeps the key order, so order still counts.
        body = orjson.loads(response.content)
        body["next"], body["previous"] = body["next"] is not None, body["previous"] is not None
        return orjson.dumps(body)
    return response.content


def answer(http: httpx.Client, base: str, case: Case, tokens: dict[str, str]) -> dict[str, Any]:
    """What a client sees: status, body (JSON parsed) and the headers a client relies on."""
    response = http.request(case.method, base + case.path, headers=_headers(case, tokens))
    return {
        "status": response.status_code,
        "body": _body(response),
        **{name: response.headers.get(name) for name in RELIED_ON},
    }


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_reqlog_answers_as_drf(pair: Pair, http: httpx.Client, case: Case) -> None:
    ours = answer(http, pair.reqlog, case, pair.tokens)
    theirs = answer(http, pair.drf, case, pair.tokens)
    if case.name in DELIBERATELY_DIFFERENT:
        reason, status = DELIBERATELY_DIFFERENT[case.name]
        assert ours["status"] == status, reason
        assert ours != theirs, f"no longer different, drop it from the list: {reason}"
        if case.method == "OPTIONS":
            # The only difference allowed: DRF's browsable-API renderer in `renders`.
            metadata = orjson.loads(theirs["body"])
            metadata["renders"].remove("text/html")
            assert ours == {**theirs, "body": orjson.dumps(metadata)}
        return
    assert ours == theirs


def _walk(http: httpx.Client, url: str, headers: dict[str, bytes], direction: str) -> list[list[int]]:
    pages: list[list[int]] = []
    next_url: str | None = url
    while next_url is not None and len(pages) < 50:
        response = http.get(next_url, headers=headers)
        assert response.status_code == 200, response.text
        page = response.json()
        pages.append([row["id"] for row in page["results"]])
        next_url = page[direction]
    return pages


@pytest.mark.parametrize("query", ["page_size=3", "page_size=7", "page_size=1&user=7", "page_size=2&status=2xx",
                                   "page_size=4&max_duration=0.2", "page_size=500", "page_size=19"])  # fmt: skip
def test_cursor_walks_match(pair: Pair, http: httpx.Client, query: str) -> None:
    """Following `next` to the end, then `previous` back from the last page, gives the same pages."""
    headers = {"Authorization": f"Token {pair.tokens['admin']}".encode()}
    walks = {}
    for name, base in (("reqlog", pair.reqlog), ("drf", pair.drf)):
        forward = _walk(http, f"{base}{LIST}?{query}", headers, "next")
        last = http.get(f"{base}{LIST}?{query}", headers=headers).json()
        while last["next"] is not None:
            last = http.get(last["next"], headers=headers).json()
        backward = _walk(http, last["previous"], headers, "previous") if last["previous"] else []
        walks[name] = (forward, backward)
    assert walks["reqlog"] == walks["drf"]
    forward, _ = walks["reqlog"]
    assert sum(len(page) for page in forward) > 0
