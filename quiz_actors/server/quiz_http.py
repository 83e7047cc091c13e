"""/api/quizzes: list, create, read, revise, archive, duplicate and check quizzes (docs/api.md).

Each handler checks what the request carries (the admin key, If-Match, the
body) and hands the rest to the quiz library (quiz_actors/quizzes.py) in the
default executor: store calls block, so they never run on the loop.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from typing import Any

from aiohttp import web

from quiz_actors.domain.quiz import QuizInvalid, QuizRefused
from quiz_actors.quizzes import QuizLibrary
from quiz_actors.server.http_json import BodyRefused, admin_key_ok, error_reply, read_json, unauthorized
from quiz_actors.server.keys import SYSTEM
from quiz_actors.system import started

routes = web.RouteTableDef()

# An id is a UUID: /api/quizzes/validate, /import, /template.xlsx are other resources (any method).
ONE_QUIZ = "/api/quizzes/{quiz_id:[0-9a-fA-F-]+}"
REFUSAL_STATUS = {"quiz_not_found": 404, "quiz_archived": 409, "quiz_changed": 412}
FLAGS = {"1": True, "true": True, "0": False, "false": False}


class Refused(Exception):
    """A reply to send instead of going on."""

    def __init__(self, response: web.Response):
        super().__init__(response.status)
        self.response = response


def _library(request: web.Request) -> QuizLibrary:
    return started(request.app[SYSTEM].quizzes)


async def _in_store(call: Callable[..., Any], *args: Any) -> Any:
    """Run a library call in the executor; its refusals become the API's error replies."""
    try:
        return await asyncio.get_running_loop().run_in_executor(None, functools.partial(call, *args))
    except QuizInvalid as e:
        raise Refused(error_reply(400, "quiz_invalid", "The quiz has problems to fix", e.problems)) from None
    except QuizRefused as e:
        # A stale copy's 412 names the revision that won, as the ETag a GET would give.
        headers = _etag(e.revision) if e.revision is not None else None
        raise Refused(error_reply(REFUSAL_STATUS[e.code], e.code, e.message, headers=headers)) from None


def _need_key(request: web.Request, what: str) -> None:
    if not admin_key_ok(request):
        raise Refused(unauthorized(what))


async def _document(request: web.Request) -> Any:
    try:
        return await read_json(request)
    except BodyRefused as e:
        raise Refused(error_reply(e.status, "quiz_invalid", e.message)) from None


async def _copy_title(request: web.Request) -> str | None:
    """The title a page asks for the copy in its own language (``{"title": "Hauptstädte (Kopie)"}``);
    None without a body, for "<title> (copy)" as before."""
    if not request.can_read_body:
        return None
    refused = error_reply(400, "bad_request", 'The body is {"title": "<the copy\'s title>"}, {} or nothing')
    try:
        body = await read_json(request)
    except BodyRefused:
        raise Refused(refused) from None
    if not isinstance(body, dict) or not isinstance(body.get("title", ""), str):
        raise Refused(refused)  # a null title too: the description says a title is a string
    title: str | None = body.get("title")
    return title


def _expected_revision(request: web.Request) -> int:
    """The revision named by If-Match: ``"3"`` (as ETag gives it), ``W/"3"`` or ``3``."""
    header = request.headers.get("If-Match")
    if header is None:
        raise Refused(
            error_reply(
                428,
                "revision_required",
                'Say which revision you edited: send If-Match with the ETag you read, like If-Match: "3"',
            )
        )
    text = header.strip().removeprefix("W/").strip().strip('"')
    if not (text.isascii() and text.isdigit()) or len(text) > 9:
        raise Refused(
            error_reply(400, "bad_request", f'If-Match must be a revision like "3", not {header[:40]!r}')
        )
    return int(text)


def _flag(request: web.Request, name: str) -> bool:
    """A yes-or-no query parameter: 1 or true, 0 or false; absent is false."""
    value = request.query.get(name)
    if value is None:
        return False
    if value not in FLAGS:
        raise Refused(error_reply(400, "bad_request", f"{name} is 1 or 0, not {value[:20]!r}"))
    return FLAGS[value]


def _etag(revision: int) -> dict[str, str]:
    return {"ETag": f'"{revision}"'}


def refusals(handler: Callable[[web.Request], Any]) -> Callable[[web.Request], Any]:
    """Send a handler's ``Refused`` reply as its answer."""

    @functools.wraps(handler)
    async def answer(request: web.Request) -> web.StreamResponse:
        try:
            response: web.StreamResponse = await handler(request)
        except Refused as refused:
            return refused.response
        return response

    return answer


@routes.get("/api/quizzes")
@refusals
async def list_quizzes(request: web.Request) -> web.Response:
    query, archived = request.query.get("q", "")[:200], _flag(request, "archived")
    quizzes = await _in_store(_library(request).list, query, archived)
    return web.json_response({"quizzes": quizzes})


@routes.post("/api/quizzes")
@refusals
async def create_quiz(request: web.Request) -> web.Response:
    _need_key(request, "Creating a quiz")
    document = await _document(request)
    entry = await _in_store(_library(request).upload, document)
    headers = {**_etag(entry["revision"]), "Location": f"/api/quizzes/{entry['quiz_id']}"}
    return web.json_response(entry, status=201, headers=headers)


@routes.post("/api/quizzes/validate")
@refusals
async def validate_quiz(request: web.Request) -> web.Response:
    _need_key(request, "Checking a quiz")
    document = await _document(request)
    problems = await _in_store(_library(request).problems, document)
    return web.json_response({"problems": [p.as_json() for p in problems]})


@routes.get(ONE_QUIZ)
@refusals
async def get_quiz(request: web.Request) -> web.Response:
    _need_key(request, "Reading a whole quiz (it holds the answers)")
    quiz = await _in_store(_library(request).get, request.match_info["quiz_id"])
    body = {
        "quiz_id": str(quiz.id),
        "revision": quiz.revision,
        "created_at": quiz.created_at,
        "updated_at": quiz.updated_at,
        "archived": quiz.archived,
        "document": quiz.document,
    }
    return web.json_response(body, headers=_etag(quiz.revision))


@routes.put(ONE_QUIZ)
@refusals
async def revise_quiz(request: web.Request) -> web.Response:
    _need_key(request, "Changing a quiz")
    expected = _expected_revision(request)
    document = await _document(request)
    entry = await _in_store(_library(request).revise, request.match_info["quiz_id"], document, expected)
    return web.json_response(entry, headers=_etag(entry["revision"]))


@routes.delete(ONE_QUIZ)
@refusals
async def archive_quiz(request: web.Request) -> web.Response:
    _need_key(request, "Deleting a quiz")
    entry = await _in_store(_library(request).archive, request.match_info["quiz_id"])
    return web.json_response(entry, headers=_etag(entry["revision"]))


@routes.post(ONE_QUIZ + "/duplicate")
@refusals
async def duplicate_quiz(request: web.Request) -> web.Response:
    _need_key(request, "Copying a quiz")
    title = await _copy_title(request)
    entry = await _in_store(_library(request).duplicate, request.match_info["quiz_id"], title)
    headers = {**_etag(entry["revision"]), "Location": f"/api/quizzes/{entry['quiz_id']}"}
    return web.json_response(entry, status=201, headers=headers)
