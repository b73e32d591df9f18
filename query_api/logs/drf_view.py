"""What DRF's `APIView` does around a read-only handler, for the request-log endpoints.

Per request, in DRF's order: content negotiation (406 / 404 before anything else), then the
handler for GET and HEAD (which authenticates and checks permission itself), or, for any other
method, authentication and permission followed by OPTIONS' metadata or DRF's 405. Every answer,
errors included, carries `Allow: GET, HEAD, OPTIONS` and `Vary: Accept`, as DRF sends them.
JSON bodies are finished as DRF's `JSONRenderer` finishes them: U+2028 and U+2029 escaped (so
the JSON is also valid JavaScript), and indented when `Accept` asked for `indent=N`.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable

import orjson
from aiohttp import web

from query_api.auth import authorize
from query_api.errors import JSON, ApiError, error_response
from query_api.logs.negotiation import negotiate

ALLOW = "GET, HEAD, OPTIONS"
# DRF's default parsers, which its metadata lists for any view; reqlog renders JSON only.
_PARSES = ["application/json", "application/x-www-form-urlencoded", "multipart/form-data"]

_LINE_SEPARATORS = ("\u2028".encode(), b"\\u2028"), ("\u2029".encode(), b"\\u2029")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class MethodNotAllowed(ApiError):
    """405 with DRF's message for `method`."""

    def __init__(self, method: str) -> None:
        super().__init__(405, f'Method "{method}" not allowed.')


def metadata(name: str, description: str) -> bytes:
    """The body DRF's `SimpleMetadata` answers to OPTIONS on a view without write actions."""
    return orjson.dumps({"name": name, "description": description, "renders": [JSON], "parses": _PARSES})


def read_only_view(get: Handler, *, permission: int, name: str, description: str) -> Handler:
    """A handler for every method of one endpoint whose GET (and HEAD) is `get`.

    `name` and `description` are what OPTIONS reports (DRF derives them from the view's class
    name and docstring).
    """
    options_body = metadata(name, description)

    async def view(request: web.Request) -> web.StreamResponse:
        response: web.StreamResponse
        indent = None
        try:
            indent = negotiate(request.query.get("format"), request.headers.get("Accept"))
            if request.method in ("GET", "HEAD"):
                response = await get(request)
            else:
                await authorize(request, permission)
                if request.method != "OPTIONS":
                    raise MethodNotAllowed(request.method)
                response = web.Response(body=options_body, content_type=JSON)
        except ApiError as error:
            response = error_response(error)
        response.headers["Allow"] = ALLOW
        response.headers["Vary"] = "Accept"
        if isinstance(response, web.Response) and isinstance(response.body, bytes):
            response.body = finish_json(response.body, indent)
        return response

    return view


def finish_json(body: bytes, indent: int | None) -> bytes:
    """`body` as DRF's `JSONRenderer` would have written it (with `indent`, or compact)."""
    if indent is not None:
        # DRF's separators for indented output; ensure_ascii off, as DRF's UNICODE_JSON default.
        body = json.dumps(orjson.loads(body), indent=indent, ensure_ascii=False, separators=(",", ": ")).encode()
    for raw, escaped in _LINE_SEPARATORS:
        if raw in body:  # rare: one scan per separator, no copy
            body = body.replace(raw, escaped)
    return body
