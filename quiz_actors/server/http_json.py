"""What every JSON endpoint of the HTTP API shares: error replies, the admin key, reading a JSON body.

An error is ``{"error": {"code", "message", "details", "problems"}}``:
``code`` for programs, ``message`` in plain words, ``details`` one string per
problem (as clients of the first release read them) and ``problems`` the same
as objects with a ``path`` into the quiz document (docs/api.md, "Errors").
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from aiohttp import web
from aiohttp.typedefs import Handler

from quiz_actors.protocol import NonFiniteNumber, loads_strict
from quiz_actors.server.keys import SYSTEM

MAX_QUIZ_BYTES = 512 * 1024


class ReportedProblem(Protocol):
    """A quiz document's problem (``domain.questions.Problem``) or a file's (``replies.Problem``)."""

    @property
    def detail(self) -> str: ...

    def as_json(self) -> Mapping[str, object]: ...


def error_reply(
    status: int,
    code: str,
    message: str,
    problems: Sequence[ReportedProblem] = (),
    headers: Mapping[str, str] | None = None,
) -> web.Response:
    body = {
        "error": {
            "code": code,
            "message": message,
            "details": [p.detail for p in problems],
            "problems": [p.as_json() for p in problems],
        }
    }
    return web.json_response(body, status=status, headers=headers)


def admin_key_ok(request: web.Request) -> bool:
    """With an admin key configured, changes and full quizzes need ``Authorization: Bearer <key>``."""
    key = request.app[SYSTEM].settings.admin_key
    if not key:
        return True
    presented = request.headers.get("Authorization", "")
    return hmac.compare_digest(presented.encode(), f"Bearer {key}".encode())


def unauthorized(what: str) -> web.Response:
    return error_reply(
        401,
        "unauthorized",
        f"{what} needs the server's admin key (Authorization: Bearer <key>)",
        headers={"WWW-Authenticate": 'Bearer realm="quiz-actors"'},
    )


class BodyRefused(Exception):
    """The request's body is not a JSON document; ``message`` says why, in plain words."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.message = message
        self.status = status


async def read_json(request: web.Request) -> Any:
    """The body as JSON (UTF-8 unless the request names another charset), or BodyRefused."""
    if request.content_length is not None and request.content_length > MAX_QUIZ_BYTES:
        raise BodyRefused(f"A quiz document is at most {MAX_QUIZ_BYTES} bytes", status=413)
    try:
        body = await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise BodyRefused(f"A quiz document is at most {MAX_QUIZ_BYTES} bytes", status=413) from None
    charset = request.charset or "utf-8"
    try:
        text = body.decode(charset)
    except LookupError:
        raise BodyRefused(f"Unknown charset {charset[:40]!r}; send UTF-8") from None
    except UnicodeDecodeError:
        raise BodyRefused("The body is not valid text in its charset; send UTF-8") from None
    try:
        return loads_strict(text)
    except NonFiniteNumber:
        raise BodyRefused("Numbers must be finite: NaN and Infinity are not JSON") from None
    except ValueError:
        raise BodyRefused("The body must be a JSON quiz document") from None
    except RecursionError:
        raise BodyRefused("The body is nested too deeply to be a quiz document") from None


@web.middleware
async def json_errors_under_api(request: web.Request, handler: Handler) -> web.StreamResponse:
    """An unknown path or method under /api/ gets the API's JSON error, not aiohttp's text page."""
    try:
        return await handler(request)
    except (web.HTTPNotFound, web.HTTPMethodNotAllowed) as e:
        if not request.path.startswith("/api/"):
            raise
        if isinstance(e, web.HTTPMethodNotAllowed):
            allowed = ", ".join(sorted(e.allowed_methods))
            return error_reply(
                405,
                "method_not_allowed",
                f"{request.method} is not allowed here; use {allowed}",
                headers={"Allow": allowed},
            )
        return error_reply(404, "not_found", f"There is no {request.path[:80]} in the API (docs/api.md)")
