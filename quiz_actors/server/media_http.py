"""The pictures API: ``POST /api/media`` (upload) and ``GET /media/{media_id}`` (serve).

Checking and re-encoding a picture is CPU work and storing it blocks, so both
run in the default executor, never on the loop. A stored picture never changes
(its id is the hash of its bytes), so browsers may keep it for a year.
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from quiz_actors.domain.media import is_media_id
from quiz_actors.images import MAX_UPLOAD_BYTES, ImageRefused, too_big_message
from quiz_actors.server.http_json import admin_key_ok, error_reply, unauthorized
from quiz_actors.server.keys import SYSTEM
from quiz_actors.server.replies import Problem
from quiz_actors.server.uploads import UploadMissing, UploadTooBig, read_upload
from quiz_actors.system import started

CACHE_FOREVER = "public, max-age=31536000, immutable"
routes = web.RouteTableDef()


@routes.post("/api/media")
async def upload_media(request: web.Request) -> web.Response:
    if not admin_key_ok(request):
        return unauthorized("Uploading a picture")
    try:
        upload = await read_upload(request, MAX_UPLOAD_BYTES)
    except UploadTooBig:
        return error_reply(413, "media_too_big", too_big_message())
    except UploadMissing as e:
        return error_reply(400, "media_invalid", str(e))
    media = started(request.app[SYSTEM].media)
    try:
        stored = await asyncio.get_running_loop().run_in_executor(None, media.store_image, upload.data)
    except ImageRefused as e:
        if e.too_big:
            return error_reply(413, "media_too_big", e.message)
        return error_reply(400, "media_invalid", e.message, [Problem(e.message)])
    return web.json_response(stored, status=201)


@routes.get("/media/{media_id}")
async def serve_media(request: web.Request) -> web.StreamResponse:
    media_id = request.match_info["media_id"]
    if not is_media_id(media_id):
        return _not_found()
    etag = f'"{media_id}"'
    if request.headers.get("If-None-Match") == etag:
        return web.Response(status=304, headers=_cache_headers(etag))
    media = started(request.app[SYSTEM].media)
    found = await asyncio.get_running_loop().run_in_executor(None, media.get, media_id)
    if found is None:
        return _not_found()
    data, content_type = found
    return web.Response(body=data, content_type=content_type, headers=_cache_headers(etag))


def _cache_headers(etag: str) -> dict[str, str]:
    return {
        "Cache-Control": CACHE_FOREVER,
        "ETag": etag,
        "X-Content-Type-Options": "nosniff",
        # A picture is only ever shown by our own pages: nothing in it may run or be framed.
        "Content-Security-Policy": "default-src 'none'; sandbox",
    }


def _not_found() -> web.Response:
    return error_reply(
        404,
        "media_not_found",
        "No picture with this id is stored here",
        headers={"X-Content-Type-Options": "nosniff"},
    )
