"""Import problems carry a code and params, so the library page says them in its language (issue 17).

Over real HTTP (``POST /api/quizzes/import``): a real bad file (or request) for each
problem an import reports. Every import problem has a code; an import's own code has
words under ``library.problem.<code>`` in every catalog, and a quiz check's problem
found in the file keeps its validation code (``editor.problem.<code>``), each with every
{placeholder} of its words in ``params``. Every ``library.problem.*`` key is a code the
server really gives. ``message``, ``details``, ``path``, ``row`` and ``column`` stay.
"""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from collections.abc import Callable
from typing import Any

import aiohttp
from openpyxl import Workbook

from tests.conftest import RunningServer
from tests.test_import_export_e2e import GOOD_ROWS, XLSX, bundle_with, kahoot_xlsx
from tests.test_quiz_problem_codes import LANGUAGES, STATIC

PLACEHOLDER = re.compile(r"\{(\w+)\}")
LIBRARY, EDITOR = "library.problem.", "editor.problem."
HEADER = ["Question", "Answer 1", "Answer 2", "Answer 3", "Answer 4", "Time limit (sec)", "Correct answer(s)"]


def csv_of(*rows: list[Any], header: list[str] = HEADER) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


def workbook() -> bytes:
    return kahoot_xlsx(GOOD_ROWS[:1])


def rezipped(data: bytes, change: Callable[[str, bytes], bytes | None]) -> bytes:
    """The zip with each entry changed (None: left out)."""
    source, out = zipfile.ZipFile(io.BytesIO(data)), io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name in source.namelist():
            changed = change(name, source.read(name))
            if changed is not None:
                archive.writestr(name, changed)
    return out.getvalue()


def bomb() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/worksheets/sheet1.xml", b" " * (65 * 1024 * 1024))
    return out.getvalue()


def bundle(**fields: Any) -> bytes:
    return json.dumps({"format": "quiz-actors-quiz", "version": 1, **fields}).encode()


JSON, CSV = "application/json", "text/csv"
ROW = ["Q", "a", "b", None, None, 20, 1]
# (what it is, the body, its Content-Type, ?query): each makes at least one problem.
BAD_FILES: list[tuple[str, bytes, str, str]] = [
    ("over 5 MB", b"a" * (6 * 1024 * 1024), CSV, ""),
    ("empty", b"", "application/octet-stream", ""),
    ("unknown format", b"x", CSV, "?format=ods"),
    ("a form without a boundary", b"x", "multipart/form-data", ""),
    ("not a zip", b"PK\x03\x04 not really a zip", XLSX, ""),
    ("a zip bomb", bomb(), XLSX, ""),
    (
        "a zip, not a workbook",
        rezipped(workbook(), lambda n, d: d if n == "docProps/app.xml" else None),
        XLSX,
        "",
    ),
    (
        "a broken sheet",
        rezipped(
            workbook(), lambda n, d: b"<worksheet><sheetData><row><c" if n.endswith("sheet1.xml") else d
        ),
        XLSX,
        "",
    ),
    (
        "no sheet",
        rezipped(
            workbook(),
            lambda n, d: re.sub(rb"<sheets>.*</sheets>", b"<sheets/>", d) if n == "xl/workbook.xml" else d,
        ),
        XLSX,
        "",
    ),
    ("an xlsx formula", kahoot_xlsx(GOOD_ROWS, formula_at="C9"), XLSX, ""),
    ("a csv formula", csv_of(["=1+1", "a", "b", None, None, 20, 1]), CSV, ""),
    ("latin-1", "Question;Answer 1\né".encode("latin-1"), CSV, ""),
    ("binary", b"Question,Answer 1\x00", CSV, ""),
    ("a cell over the csv field limit", b'Question\n"' + b"x" * 200_000 + b'"\n', CSV, ""),
    ("1,001 rows", csv_of(*[ROW] * 1001), CSV, ""),
    ("101 questions", csv_of(*[ROW] * 101), CSV, ""),
    ("only the header", csv_of(), CSV, ""),
    ("no header", b"just some words\n", CSV, ""),
    ("a header without Answer 2", csv_of(header=["Question", "Answer 1", "Correct answer(s)"]), CSV, ""),
    (
        "every bad cell",
        csv_of(
            ["", "a", "b", None, None, 20, 1],
            ["Q", "a", "", "c", None, 20, 1],
            ["Q", "a", None, None, None, 20, 1],
            ["Q", "a", "b", None, None, "soon", 1],
            ["Q", "a", "b", None, None, 20, ""],
            ["Q", "a", "b", None, None, 20, "first"],
            ["Q", "a", "b", None, None, 20, 5],
        ),
        CSV,
        "",
    ),
    ("points", csv_of([*ROW[:3], 1, "triple"], header=[*HEADER[:3], "Correct answer(s)", "Points"]), CSV, ""),
    ("a quiz check's problem in a sheet", csv_of(["x" * 501, "a", "b", None, None, 20, 1]), CSV, ""),
    ("not UTF-8 JSON", b'{"title": "\xff"}', JSON, ""),
    ("not JSON", b"{nope", JSON, ""),
    ("NaN", b'{"title": NaN}', JSON, ""),
    ("nested too deeply", b"[" * 100_000 + b"]" * 100_000, JSON, ""),
    ("another format", json.dumps({"format": "kahoot", "version": 3}).encode(), JSON, ""),
    ("no quiz", b"[1, 2]", JSON, ""),
    ("media a list", bundle(quiz={"title": "T", "questions": []}, media=[]), JSON, ""),
    ("a picture of the wrong shape", bundle(quiz={"title": "T", "questions": []}, media={"a": 1}), JSON, ""),
    ("a picture not base64", bundle_with(b"").replace(b'"data": ""', b'"data": "not base64!"'), JSON, ""),
    ("not a picture", bundle_with(b"<html>hello</html>"), JSON, ""),
    ("a quiz check's problem in JSON", json.dumps({"title": "T", "questions": []}).encode(), JSON, ""),
]


async def import_problems(
    server: RunningServer, body: bytes, content_type: str, query: str
) -> dict[str, Any]:
    async with aiohttp.ClientSession() as http:
        async with http.post(
            f"{server.base_url}/api/quizzes/import{query}", data=body, headers={"Content-Type": content_type}
        ) as response:
            assert response.status in (400, 413), await response.text()
            return dict((await response.json())["error"])


async def test_every_import_problem_has_a_code_with_words_in_every_language(server):
    catalogs = {lang: json.loads((STATIC / f"i18n-{lang}.json").read_text("utf-8")) for lang in LANGUAGES}
    seen: dict[str, dict[str, Any]] = {}
    for what, body, content_type, query in BAD_FILES:
        error = await import_problems(server, body, content_type, query)
        assert error["problems"], what
        # Additions only: each problem is still said in English, and in details.
        assert len(error["details"]) == len(error["problems"]), what
        for problem in error["problems"]:
            assert "code" in problem and problem["message"], (what, problem)
            seen.setdefault(problem["code"], problem)
    worded = {key.removeprefix(LIBRARY) for key in catalogs["en"] if key.startswith(LIBRARY)}
    validation = {key.removeprefix(EDITOR) for key in catalogs["en"] if key.startswith(EDITOR)}
    assert sorted(set(seen) - validation) == sorted(worded)
    assert not worded & validation  # one code, one meaning
    for code, problem in seen.items():
        key = (LIBRARY if code in worded else EDITOR) + code
        for lang, catalog in catalogs.items():
            needed = set(PLACEHOLDER.findall(catalog[key]))
            assert needed <= set(problem["params"]), (lang, code, problem)
    # The numbers and cells a teacher needs are the ones the server found.
    assert seen["file_too_big"]["params"] == {"sheet_mb": 5, "json_mb": 32}
    assert seen["sheet_questions_too_many"]["params"] == {"max": 100, "count": 101, "first": 2, "last": 102}
    assert seen["cell_time_limit"]["params"] == {"min": 5, "max": 240, "value": "soon"}
    assert seen["cell_correct_no_such_answer"]["params"] == {"numbers": "5", "answers": 2}
    assert seen["cell_answer_gap"]["params"] == {"empty": 2, "filled": 3}
    assert (seen["cell_answer_gap"]["row"], seen["cell_answer_gap"]["column"]) == (3, "C")
    assert (seen["xlsx_formula"]["row"], seen["xlsx_formula"]["column"]) == (9, "C")
    # A quiz check's problem keeps its validation code, at the cell it came from.
    too_long = seen["question_text_too_long"]
    assert too_long["params"] == {"max": 500, "length": 501}
    assert (too_long["row"], too_long["column"], too_long["path"]) == (2, "A", "questions[0].text")
    assert seen["questions_missing"]["path"] == "questions"


async def test_a_workbook_built_in_a_spreadsheet_program_still_reads(server):
    """The rezipping above changes only what each case names: the untouched workbook imports."""
    book = Workbook()
    book.active.append(HEADER)
    book.active.append(ROW)
    out = io.BytesIO()
    book.save(out)
    async with aiohttp.ClientSession() as http:
        async with http.post(
            f"{server.base_url}/api/quizzes/import", data=rezipped(out.getvalue(), lambda n, d: d)
        ) as response:
            assert response.status == 201, await response.text()
