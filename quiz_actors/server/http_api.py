"""The HTTP API: quizzes and the health check.

Store calls block, so they run in the default executor, never on the loop.
"""

from __future__ import annotations

import asyncio
import hmac

from aiohttp import web

from quiz_actors.domain.quiz import QuizInvalid
from quiz_actors.protocol import NonFiniteNumber, loads_strict
from quiz_actors.server.keys import SYSTEM
from quiz_actors.system import started

MAX_QUIZ_BYTES = 512 * 1024
routes = web.RouteTableDef()


def _error(status: int, code: str, message: str, details: list[str] | None = None) -> web.Response:
    body = {"error": {"code": code, "message": message, "details": details or []}}
    return web.json_response(body, status=status)


def admin_key_ok(request: web.Request) -> bool:
    """With an admin key configured, uploads need ``Authorization: Bearer <key>``."""
    key = request.app[SYSTEM].settings.admin_key
    if not key:
        return True
    presented = request.headers.get("Authorization", "")
    return hmac.compare_digest(presented.encode(), f"Bearer {key}".encode())


@routes.post("/api/quizzes")
async def upload_quiz(request: web.Request) -> web.Response:
    if not admin_key_ok(request):
        return _error(401, "unauthorized", "Uploading quizzes needs the server's admin key")
    if request.content_length is not None and request.content_length > MAX_QUIZ_BYTES:
        return _error(413, "quiz_invalid", f"A quiz document is at most {MAX_QUIZ_BYTES} bytes")
    body = await request.read()
    charset = request.charset or "utf-8"
    try:
        text = body.decode(charset)
    except LookupError:
        return _error(400, "quiz_invalid", f"Unknown charset {charset[:40]!r}; send UTF-8")
    except UnicodeDecodeError:
        return _error(400, "quiz_invalid", "The body is not valid text in its charset; send UTF-8")
    try:
        document = loads_strict(text)
    except NonFiniteNumber:
        return _error(400, "quiz_invalid", "Numbers must be finite: NaN and Infinity are not JSON")
    except ValueError:
        return _error(400, "quiz_invalid", "The body must be a JSON quiz document")
    except RecursionError:
        return _error(400, "quiz_invalid", "The body is nested too deeply to be a quiz document")
    library = started(request.app[SYSTEM].quizzes)
    try:
        entry = await asyncio.get_running_loop().run_in_executor(None, library.upload, document)
    except QuizInvalid as e:
        return _error(400, "quiz_invalid", "The quiz document is invalid", e.details)
    return web.json_response(entry, status=201)


@routes.get("/api/quizzes")
async def list_quizzes(request: web.Request) -> web.Response:
    library = started(request.app[SYSTEM].quizzes)
    quizzes = await asyncio.get_running_loop().run_in_executor(None, library.list)
    return web.json_response({"quizzes": quizzes})


@routes.get("/healthz")
async def health(request: web.Request) -> web.Response:
    store = started(request.app[SYSTEM].store)
    try:
        await asyncio.wait_for(asyncio.get_running_loop().run_in_executor(None, store.ping), timeout=5)
    except Exception:
        return web.json_response({"status": "unavailable"}, status=503)
    return web.json_response({"status": "ok"})
