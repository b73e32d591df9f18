"""`Route`: one row of the service's route table (`app.ROUTES`), with the OpenAPI it documents.

A route names its method, path and handler, and carries its own OpenAPI operations and the
component schemas they refer to, declared next to the handler, so the served document
(`openapi.document_for`) is built from the same table that routes the requests.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True, slots=True)
class Route:
    """`method` requests to `path` go to `handler`.

    - `method`: `GET`, `POST`, ..., or `*` for every method (the handler answers 405 itself, as
      DRF's views do).
    - `operations`: the OpenAPI path item for `path`, by lower-case method (`{"get": {...}}`).
    - `schemas`: component schemas the operations refer to (`#/components/schemas/NAME`).
    - `slash_twin`: also serve `path + "/"` (DRF's URLs end with a slash; reqlog takes both).
    - `allow_head`: a GET route answers HEAD too (aiohttp's default).
    """

    method: str
    path: str
    handler: Handler
    operations: Mapping[str, Any] = field(default_factory=dict)
    schemas: Mapping[str, Any] = field(default_factory=dict)
    slash_twin: bool = False
    allow_head: bool = True

    def paths(self) -> tuple[str, ...]:
        return (self.path, self.path + "/") if self.slash_twin else (self.path,)


def add_routes(app: web.Application, routes: Iterable[Route]) -> None:
    """Register `routes` on `app`'s router, in order."""
    for route in routes:
        for path in route.paths():
            if route.method == "GET":
                app.router.add_get(path, route.handler, allow_head=route.allow_head)
            else:
                app.router.add_route(route.method, path, route.handler)
