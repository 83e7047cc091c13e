"""Importing a file as a new quiz, all of it or nothing; exporting a stored quiz as a file.

An import is checked completely before anything is stored: the file's cells
(``sheets``), its rows (``kahoot``) or its JSON and pictures (``bundle``), then
the quiz itself by the same rules as every upload. Only when all of that holds
are its pictures stored, and the quiz goes in through ``QuizLibrary.upload``,
so an import can never make a quiz that the API would have refused.
"""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any

from quiz_actors.domain.media import MediaItem
from quiz_actors.domain.quiz import QuizInvalid, QuizRefused, validate_quiz_document
from quiz_actors.interchange import kahoot
from quiz_actors.interchange.bundle import read_bundle, write_bundle
from quiz_actors.interchange.kahoot import Sheet, read_sheet, sheet_rows, template_rows
from quiz_actors.interchange.problems import ImportProblem, ImportRefused, quiz_problems
from quiz_actors.interchange.sheets import read_csv, read_xlsx, write_csv, write_xlsx
from quiz_actors.media import MediaLibrary
from quiz_actors.quizzes import QuizLibrary

FORMATS = ("xlsx", "csv", "json")
MAX_SHEET_BYTES = 5 * 1024 * 1024
MAX_JSON_BYTES = 32 * 1024 * 1024  # a quiz with its pictures in base64; each picture is still ≤ 5 MB
DEFAULT_TITLE = "Imported quiz"

CONTENT_TYPES = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv; charset=utf-8",
    "json": "application/json",
}
_BY_CONTENT_TYPE = {
    CONTENT_TYPES["xlsx"]: "xlsx",
    "text/csv": "csv",
    "application/csv": "csv",
    "application/json": "json",
}


class QuizMissing(LookupError):
    """No quiz has the id asked for."""


@dataclass(frozen=True)
class ExportedFile:
    data: bytes
    content_type: str
    filename: str


def format_of(asked: str | None, content_type: str, filename: str | None, head: bytes = b"") -> str | None:
    """The file's format: as asked (``?format=``), else from its type, its name, or its first bytes."""
    if asked:
        return asked if asked in FORMATS else None
    if content_type in _BY_CONTENT_TYPE:
        return _BY_CONTENT_TYPE[content_type]
    suffix = PurePath(filename or "").suffix.lower().lstrip(".")
    if suffix in FORMATS:
        return suffix
    if not head:
        return None
    if head.startswith(b"PK\x03\x04"):
        return "xlsx"
    if head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{"):
        return "json"
    return "csv"


def size_limit(fmt: str | None) -> int:
    """JSON quiz files carry pictures; a file not known to be one gets a spreadsheet's limit."""
    return MAX_JSON_BYTES if fmt == "json" else MAX_SHEET_BYTES


def too_big(fmt: str | None) -> ImportProblem:
    """The size limit for a file of this format (a JSON quiz file carries its pictures)."""
    sheet_mb, json_mb = MAX_SHEET_BYTES // (1024 * 1024), MAX_JSON_BYTES // (1024 * 1024)
    if fmt == "json":
        message = f"A quiz file (JSON with its pictures) is at most {json_mb} MB"
    else:
        message = (
            f"A spreadsheet to import is at most {sheet_mb} MB (a JSON quiz file with pictures: {json_mb} MB)"
        )
    params: dict[str, str | int] = {"sheet_mb": sheet_mb, "json_mb": json_mb}
    return ImportProblem(message, code="file_too_big", params=params)


def import_quiz(
    library: QuizLibrary,
    media: MediaLibrary,
    data: bytes,
    fmt: str,
    title: str | None = None,
    filename: str | None = None,
) -> dict[str, Any]:
    """Store the quiz in ``data`` as a new quiz; ``ImportRefused`` (nothing stored) otherwise."""
    if len(data) > size_limit(fmt):
        raise ImportRefused([too_big(fmt)])
    sheet: Sheet | None = None
    pictures: list[MediaItem] = []
    if fmt == "json":
        bundle = read_bundle(data, media.prepare)
        document, pictures = bundle.document, bundle.pictures
    else:
        sheet = read_sheet(read_xlsx(data) if fmt == "xlsx" else read_csv(data))
        document = sheet.document
    document = _titled(document, title, filename)
    try:
        validate_quiz_document(document)  # the rules every upload meets; nothing stored yet
    except QuizInvalid as e:
        raise ImportRefused(_placed(e, sheet)) from None
    media.keep(pictures)  # before the quiz: a quiz's pictures must be in the store
    try:
        return library.upload(document)
    except QuizInvalid as e:
        raise ImportRefused(_placed(e, sheet)) from None


def export_quiz(library: QuizLibrary, media: MediaLibrary, quiz_id: str, fmt: str) -> ExportedFile:
    """The quiz as a file to download; ``QuizMissing``, or ``ExportRefused`` for a sheet it cannot hold."""
    try:
        document = dict(library.get(quiz_id).document)
    except QuizRefused:
        raise QuizMissing(quiz_id) from None
    name = _file_stem(str(document.get("title", "")))
    if fmt == "json":
        bundle = write_bundle(document, media.get)
        data = json.dumps(bundle, ensure_ascii=False, indent=1).encode("utf-8")
    elif fmt == "xlsx":
        data = write_xlsx(sheet_rows(document), kahoot.COLUMN_WIDTHS)
    else:
        data = write_csv(sheet_rows(document))
    return ExportedFile(data=data, content_type=CONTENT_TYPES[fmt], filename=f"{name}.{fmt}")


def template(fmt: str) -> ExportedFile:
    rows = template_rows()
    data = write_xlsx(rows, kahoot.COLUMN_WIDTHS) if fmt == "xlsx" else write_csv(rows)
    return ExportedFile(data=data, content_type=CONTENT_TYPES[fmt], filename=f"quiz-template.{fmt}")


def _titled(document: dict[str, Any], title: str | None, filename: str | None) -> dict[str, Any]:
    """The title asked for, else the file's own, else the file's name."""
    if title and title.strip():
        return {**document, "title": title.strip()}
    if isinstance(document.get("title"), str) and document["title"].strip():
        return document
    stem = PurePath(filename).stem.strip() if filename else ""
    return {**document, "title": stem or DEFAULT_TITLE}


def _placed(error: QuizInvalid, sheet: Sheet | None) -> list[ImportProblem]:
    """The quiz's problems, each at the row and column it came from when the file is a spreadsheet."""
    out = []
    for problem in quiz_problems(error):
        row, column = sheet.place(problem.path) if sheet is not None else (None, None)
        out.append(dataclasses.replace(problem, row=row, column=column))
    return out


def _file_stem(title: str) -> str:
    stem = re.sub(r"[^\w\- ]+", "", title, flags=re.UNICODE).strip().replace(" ", "-")
    return stem[:60] or "quiz"
