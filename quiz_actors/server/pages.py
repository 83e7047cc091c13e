"""The web client: the player page at ``/``, the host page at ``/host``, the quiz
library at ``/quizzes`` and its editor at ``/quizzes/edit``; their files at ``/static/``.

Everything is plain files shipped inside the package (``static/``): no build
step, no CDN. The pages talk to the server only through ``/ws``, ``/api/quizzes``,
``/api/media`` and ``/api/games``, like any other client (docs/web-client.md).
``/host/games`` lists the games this browser hosted, with their reports.
"""

from __future__ import annotations

import re
from pathlib import Path

from aiohttp import web

STATIC_DIR = Path(__file__).with_name("static")

# Set explicitly rather than guessed: a platform whose mime table maps .js to
# text/plain would make browsers refuse the pages' module scripts.
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".json": "application/json; charset=utf-8",  # the language catalogs (i18n-*.json)
}

# Only files directly in static/, with plain names: no path can climb out of it.
_STATIC_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*\.(?:js|css|svg|json)$")

# The pages load only their own files and open only their own socket. Styles set
# from scripts go through the CSSOM (element.style.x), which this allows.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    # Revalidate every time (a cheap 304 when unchanged), so an upgraded server
    # never runs with yesterday's scripts.
    "Cache-Control": "no-cache",
}

routes = web.RouteTableDef()


def _file(name: str) -> web.FileResponse:
    path = STATIC_DIR / name
    if not path.is_file():
        raise web.HTTPNotFound()
    headers = {**SECURITY_HEADERS, "Content-Type": CONTENT_TYPES[path.suffix]}
    return web.FileResponse(path, headers=headers)


@routes.get("/")
async def player_page(request: web.Request) -> web.StreamResponse:
    return _file("player.html")


@routes.get("/host")
async def host_page(request: web.Request) -> web.StreamResponse:
    return _file("host.html")


@routes.get("/host/games")
async def past_games_page(request: web.Request) -> web.StreamResponse:
    return _file("games.html")


@routes.get("/quizzes")
async def library_page(request: web.Request) -> web.StreamResponse:
    return _file("quizzes.html")


@routes.get("/quizzes/edit")
async def editor_page(request: web.Request) -> web.StreamResponse:
    return _file("editor.html")


@routes.get("/static/{name}")
async def static_file(request: web.Request) -> web.StreamResponse:
    name = request.match_info["name"]
    if not _STATIC_NAME.match(name):
        raise web.HTTPNotFound()
    return _file(name)
