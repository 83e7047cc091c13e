"""The HTTP API's health check; the quizzes are in quiz_http.py, the description in openapi.py.

Store calls block, so they run in the default executor, never on the loop.
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from quiz_actors.server.http_json import MAX_QUIZ_BYTES
from quiz_actors.server.keys import SYSTEM
from quiz_actors.system import started

__all__ = ["MAX_QUIZ_BYTES", "routes"]

routes = web.RouteTableDef()


@routes.get("/healthz")
async def health(request: web.Request) -> web.Response:
    store = started(request.app[SYSTEM].store)
    try:
        await asyncio.wait_for(asyncio.get_running_loop().run_in_executor(None, store.ping), timeout=5)
    except Exception:
        return web.json_response({"status": "unavailable"}, status=503)
    return web.json_response({"status": "ok"})
