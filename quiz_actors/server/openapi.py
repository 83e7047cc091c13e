"""GET /api/openapi.json: the OpenAPI 3.1 description of the HTTP API (written in openapi_spec.py)."""

from __future__ import annotations

from aiohttp import web

from quiz_actors.server.openapi_spec import SPEC

routes = web.RouteTableDef()


@routes.get("/api/openapi.json")
async def openapi_json(request: web.Request) -> web.Response:
    return web.json_response(SPEC)
