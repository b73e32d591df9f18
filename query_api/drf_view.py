"""What DRF's `APIView` does around a read-only handler, for the request-log endpoints.

Per request, in DRF's order: content negotiation (406 / 404 before anything else), then the
handler for GET and HEAD (which authenticates and checks permission itself), or, for any other
method, authentication and permission followed by OPTIONS' metadata or DRF's 405. Every answer,
errors included, carries `Allow: GET, HEAD, OPTIONS` and `Vary: Accept`, as DRF sends them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import orjson
from aiohttp import web

from .auth import authorize
from .errors import JSON, ApiError, error_response
from .negotiation import negotiate

ALLOW = "GET, HEAD, OPTIONS"
# DRF's default parsers, which its metadata lists for any view; reqlog renders JSON only.
_PARSES = ["application/json", "application/x-www-form-urlencoded", "multipart/form-data"]

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
        try:
            negotiate(request.query.get("format"), request.headers.get("Accept"))
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
        return response

    return view
