"""Quizzes as files: ``POST /api/quizzes/import``, ``GET /api/quizzes/{quiz_id}/export``
and the templates ``GET /api/quizzes/template.xlsx`` / ``.csv``.

Reading spreadsheets and pictures is CPU work and storing blocks: both run in
the default executor, never on the loop. These routes are registered before
``/api/quizzes/{quiz_id}`` so that ``template.xlsx`` is never taken for an id.
"""

from __future__ import annotations

import asyncio
from urllib.parse import quote

from aiohttp import web

from quiz_actors.interchange import transfer
from quiz_actors.interchange.kahoot import ExportRefused
from quiz_actors.interchange.problems import ImportProblem, ImportRefused
from quiz_actors.server.http_json import admin_key_ok, error_reply, unauthorized
from quiz_actors.server.keys import SYSTEM
from quiz_actors.server.replies import Problem
from quiz_actors.server.uploads import UploadMissing, UploadTooBig, read_upload
from quiz_actors.system import started

routes = web.RouteTableDef()


@routes.post("/api/quizzes/import")
async def import_quiz(request: web.Request) -> web.Response:
    if not admin_key_ok(request):
        return unauthorized("Importing a quiz")
    asked = request.query.get("format")
    if asked is not None and asked not in transfer.FORMATS:
        return _invalid(
            f"Unknown format {asked[:20]!r}: use xlsx, csv or json", "format_unknown", {"format": asked[:20]}
        )
    declared = transfer.format_of(asked, request.content_type, None)
    # A form says what its file is only in the file's own headers: the larger limit until then.
    is_form = request.content_type.startswith("multipart/")
    limit = transfer.MAX_JSON_BYTES if is_form else transfer.size_limit(declared)
    try:
        upload = await read_upload(
            request,
            limit,
            lambda name, kind: transfer.size_limit(transfer.format_of(asked, kind, name)),
        )
    except UploadTooBig:
        return _too_big(declared)
    except UploadMissing as e:
        return _invalid(str(e), "form_unreadable")
    fmt = transfer.format_of(asked, upload.content_type, upload.filename, upload.data[:16])
    if fmt is None:
        return _invalid("The file is empty: send a .xlsx, .csv or .json file", "file_empty")
    if len(upload.data) > transfer.size_limit(fmt):
        return _too_big(fmt)
    system = request.app[SYSTEM]
    library, media = started(system.quizzes), started(system.media)
    try:
        created = await asyncio.get_running_loop().run_in_executor(
            None,
            transfer.import_quiz,
            library,
            media,
            upload.data,
            fmt,
            request.query.get("title"),
            upload.filename,
        )
    except ImportRefused as e:
        return _refused(e.problems)
    return web.json_response(created, status=201)


@routes.get("/api/quizzes/template.xlsx")
async def xlsx_template(request: web.Request) -> web.Response:
    return _download(transfer.template("xlsx"))


@routes.get("/api/quizzes/template.csv")
async def csv_template(request: web.Request) -> web.Response:
    return _download(transfer.template("csv"))


@routes.get("/api/quizzes/{quiz_id}/export")
async def export_quiz(request: web.Request) -> web.Response:
    if not admin_key_ok(request):
        return error_reply(
            401, "unauthorized", "Exporting a quiz (it holds the answers) needs the server's admin key"
        )
    fmt = request.query.get("format", "json")
    if fmt not in transfer.FORMATS:
        return error_reply(400, "export_invalid", f"Unknown format {fmt[:20]!r}: use json, xlsx or csv")
    system = request.app[SYSTEM]
    library, media = started(system.quizzes), started(system.media)
    try:
        exported = await asyncio.get_running_loop().run_in_executor(
            None, transfer.export_quiz, library, media, request.match_info["quiz_id"], fmt
        )
    except transfer.QuizMissing:
        return error_reply(404, "quiz_not_found", "No quiz has this id")
    except ExportRefused as e:
        return error_reply(400, "export_unsupported", str(e))
    return _download(exported)


def _download(exported: transfer.ExportedFile) -> web.Response:
    ascii_name = exported.filename.encode("ascii", "replace").decode("ascii").replace("?", "_")
    disposition = f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(exported.filename)}"
    return web.Response(
        body=exported.data,
        headers={
            "Content-Type": exported.content_type,
            "Content-Disposition": disposition,
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "no-store",
        },
    )


def _refused(problems: list[ImportProblem]) -> web.Response:
    count = len(problems)
    placed = [Problem(p.message, p.path, p.row, p.column, p.code, p.params) for p in problems]
    message = f"Nothing was imported: the file has {count} problem{'s' if count != 1 else ''}" + (
        f" ({placed[0].detail})" if count == 1 else ""
    )
    return error_reply(400, "import_invalid", message, placed)


def _invalid(message: str, code: str, params: dict[str, str | int] | None = None) -> web.Response:
    return error_reply(400, "import_invalid", message, [Problem(message, code=code, params=params or {})])


def _too_big(fmt: str | None) -> web.Response:
    """413, with the limit as a problem with a code too, for a page to say it in its language."""
    problem = transfer.too_big(fmt)
    return error_reply(
        413,
        "import_too_big",
        problem.message,
        [Problem(problem.message, code=problem.code, params=problem.params)],
    )
