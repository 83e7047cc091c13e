"""The HTTP API's health check; the quizzes are in quiz_http.py, the description in openapi.py.

It asks the store through the ping it shares with ``/readyz`` (store_ping.py): one
quick attempt at a time, off the loop.
"""

from __future__ import annotations

from aiohttp import web

from quiz_actors.server.http_json import MAX_QUIZ_BYTES
from quiz_actors.server.keys import STORE_PING, SYSTEM
from quiz_actors.system import started

__all__ = ["MAX_QUIZ_BYTES", "routes"]

routes = web.RouteTableDef()


@routes.get("/healthz")
async def health(request: web.Request) -> web.Response:
    store = started(request.app[SYSTEM].store)
    if not await request.app[STORE_PING].store_answers(store):
        return web.json_response({"status": "unavailable"}, status=503)
    return web.json_response({"status": "ok"})
