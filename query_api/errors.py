"""API errors and the middleware that renders every failure the way Django REST Framework does.

A handler (or `authorize`) raises an `ApiError`; `error_middleware` turns it into DRF's JSON:
`{"detail": "..."}` (or the field-error mapping of a `ValidationError`), with DRF's own messages.
Every 401 carries `WWW-Authenticate: Token`, as DRF's `TokenAuthentication` sets it. Anything else
that escapes a handler becomes a bare 500 `{"detail": "A server error occurred."}` and is logged
here: no stack trace or internal error text ever reaches a client.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping

import orjson
from aiohttp import web

from exporter.errors import RequestLogError

logger = logging.getLogger("reqlog.api")

JSON = "application/json"
SERVER_ERROR = "A server error occurred."
_TOKEN_CHALLENGE = {"WWW-Authenticate": "Token"}


class ApiError(RequestLogError):
    """An error answered with `status` and a DRF-shaped body `{"detail": detail}`.

    `headers` are added to the response (for example `Retry-After`).
    """

    def __init__(self, status: int, detail: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.headers = dict(headers or {})

    def body(self) -> bytes:
        """The JSON body of the response."""
        return orjson.dumps({"detail": self.detail})


class NotAuthenticated(ApiError):
    """401: no credentials, or another scheme than `Token`."""

    def __init__(self, detail: str = "Authentication credentials were not provided.") -> None:
        super().__init__(401, detail, _TOKEN_CHALLENGE)


class AuthenticationFailed(ApiError):
    """401: credentials were given but are wrong (`detail` says how, in DRF's words)."""

    def __init__(self, detail: str = "Incorrect authentication credentials.") -> None:
        super().__init__(401, detail, _TOKEN_CHALLENGE)


class PermissionDenied(ApiError):
    """403: authenticated, but the account may not do this."""

    def __init__(self, detail: str = "You do not have permission to perform this action.") -> None:
        super().__init__(403, detail)


class NotFound(ApiError):
    """404 with `detail` (DRF: "Not found." or Django's "No RequestLog matches the given query.")."""

    def __init__(self, detail: str = "Not found.") -> None:
        super().__init__(404, detail)


class ValidationError(ApiError):
    """400 with DRF's field-error body: `{"field": ["message", ...], ...}`."""

    def __init__(self, errors: Mapping[str, list[str]]) -> None:
        super().__init__(400, "Invalid input.")
        self.errors = {name: list(messages) for name, messages in errors.items()}

    def body(self) -> bytes:
        return orjson.dumps(self.errors)


class TooManyRequests(ApiError):
    """429 with `Retry-After: retry_after` seconds, DRF's throttling message."""

    def __init__(self, detail: str | None = None, *, retry_after: int = 1) -> None:
        message = detail or f"Request was throttled. Expected available in {retry_after} seconds."
        super().__init__(429, message, {"Retry-After": str(retry_after)})


def error_response(error: ApiError) -> web.Response:
    """The response for `error`."""
    return web.Response(status=error.status, body=error.body(), content_type=JSON, headers=error.headers)


def _http_exception_response(exc: web.HTTPException) -> web.Response:
    # aiohttp's own routing errors (unknown path, wrong method, body too large) in DRF's shape.
    if isinstance(exc, web.HTTPMethodNotAllowed):
        detail = f'Method "{exc.method}" not allowed.'
    elif isinstance(exc, web.HTTPNotFound):
        detail = "Not found."
    elif isinstance(exc, web.HTTPRequestEntityTooLarge):
        detail = "Request body too large."
    else:
        detail = exc.reason
    headers = {k: v for k, v in exc.headers.items() if k.lower() not in ("content-type", "content-length")}
    return web.Response(status=exc.status, body=orjson.dumps({"detail": detail}), content_type=JSON, headers=headers)


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Render `ApiError`s and aiohttp's HTTP errors as DRF JSON; hide everything else behind a 500."""
    try:
        return await handler(request)
    except ApiError as error:
        return error_response(error)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise  # redirects and the like are answers, not errors
        return _http_exception_response(exc)
    except Exception:
        logger.exception("unhandled error in %s %s", request.method, request.path)
        return web.Response(status=500, body=orjson.dumps({"detail": SERVER_ERROR}), content_type=JSON)
