"""The viewer's static files (scripts, stylesheets, uPlot), served from the package by name only."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

STATIC_DIR = Path(__file__).parent / "static"
PATH = "/ui/static/{name}"
# Known names only: no path from a request ever reaches the file system.
_FILES = frozenset(path.name for path in STATIC_DIR.iterdir() if path.is_file())
_TYPES = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml"}


async def static_file(request: web.Request) -> web.StreamResponse:
    name = request.match_info["name"]
    if name not in _FILES:
        raise web.HTTPNotFound()
    content_type = _TYPES.get(Path(name).suffix, "text/plain")
    return web.FileResponse(STATIC_DIR / name, headers={"Content-Type": content_type, "Cache-Control": "max-age=3600"})
