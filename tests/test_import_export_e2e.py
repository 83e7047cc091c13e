"""Quizzes as files (issue 15): Kahoot's spreadsheet layout and the project's JSON, in and
out, over real HTTP on SQLite and PostgreSQL; hostile files refused with nothing stored."""

from __future__ import annotations

import base64
import csv
import functools
import io
import json
import zipfile
from dataclasses import replace

import aiohttp
from openpyxl import Workbook, load_workbook
from PIL import Image

from quiz_actors.server.keys import SYSTEM
from tests import pictures
from tests.conftest import RunningServer

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
KAHOOT_HEADERS = [
    "Question - max 120 characters",
    "Answer 1 - max 75 characters",
    "Answer 2 - max 75 characters",
    "Answer 3 - max 75 characters",
    "Answer 4 - max 75 characters",
    "Time limit (sec) – 5, 10, 20, 30, 60, 90, 120, or 240 secs",
    "Correct answer(s) - choose at least one",
]
GOOD_ROWS = [
    ["What is the capital of France?", "Lyon", "Paris", "Nice", "Lille", 20, 2],
    ["Which of these are mammals?", "Dolphin", "Shark", "Bat", "Penguin", 30, "1,3"],
    ["The Sun is a star.", "True", "False", None, None, 10, 1],
    ["2 + 2 = ?", "3", "4", None, None, 5, 2],
]


def kahoot_xlsx(rows: list[list], *, formula_at: str | None = None) -> bytes:
    """A spreadsheet as Kahoot's template lays it out: notes on top, the header on row 8,
    questions from row 9 in columns B to H, column A numbering them."""
    book = Workbook()
    sheet = book.active
    sheet["B2"] = "Quiz template"
    sheet["B4"] = "Add questions, at least two answer alternatives, time limit and choose correct answers."
    for j, header in enumerate(KAHOOT_HEADERS):
        sheet.cell(row=8, column=2 + j, value=header)
    for i, row in enumerate(rows):
        sheet.cell(row=9 + i, column=1, value=i + 1)
        for j, value in enumerate(row):
            if value is not None:
                sheet.cell(row=9 + i, column=2 + j, value=value)
    if formula_at:
        sheet[formula_at] = "=1+1"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


@functools.cache
def ten_thousand_rows_xlsx() -> bytes:
    """Kahoot's layout with 10,000 question rows (written in openpyxl's streaming mode: quick)."""
    book = Workbook(write_only=True)
    sheet = book.create_sheet()
    for _ in range(7):
        sheet.append([])
    sheet.append([None, *KAHOOT_HEADERS])
    for i in range(10_000):
        sheet.append([i + 1, f"Question {i}?", "a", "b", None, None, 20, 1])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def csv_file(rows: list[list], delimiter: str = ",") -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter)
    writer.writerow(
        ["Question", "Answer 1", "Answer 2", "Answer 3", "Answer 4", "Time limit (sec)", "Correct answer(s)"]
    )
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


def stored_events(server) -> int:
    return server.app[SYSTEM].store.max_notification_id()


def stored_document(server, quiz_id: str) -> dict:
    return dict(server.app[SYSTEM].quizzes.get(quiz_id).document)


async def import_file(http, server, data: bytes, content_type: str = XLSX, query: str = "", **kwargs):
    async with http.post(
        f"{server.base_url}/api/quizzes/import{query}",
        data=data,
        headers={"Content-Type": content_type},
        **kwargs,
    ) as response:
        return response.status, await response.json()


async def import_form(
    http, server, data: bytes, filename: str, content_type: str = "application/octet-stream"
):
    form = aiohttp.FormData()
    form.add_field("file", data, filename=filename, content_type=content_type)
    async with http.post(f"{server.base_url}/api/quizzes/import", data=form) as response:
        return response.status, await response.json()


async def export(http, server, quiz_id: str, fmt: str) -> tuple[int, bytes, dict]:
    async with http.get(f"{server.base_url}/api/quizzes/{quiz_id}/export?format={fmt}") as response:
        return response.status, await response.read(), dict(response.headers)


async def upload(http, server, quiz: dict) -> str:
    async with http.post(server.base_url + "/api/quizzes", json=quiz) as response:
        assert response.status == 201, await response.text()
        return (await response.json())["quiz_id"]


# ------------------------------------------------------------------ importing Kahoot's layout


async def test_a_kahoot_spreadsheet_becomes_a_quiz(server, http):
    status, created = await import_file(http, server, kahoot_xlsx(GOOD_ROWS), query="?title=Geography")
    assert status == 201, created
    assert created["title"] == "Geography" and created["question_count"] == 4
    document = stored_document(server, created["quiz_id"])
    assert document["questions"] == [
        {
            "type": "choice",
            "text": "What is the capital of France?",
            "choices": ["Lyon", "Paris", "Nice", "Lille"],
            "correct": [1],
            "time_limit_s": 20,
            "points": "standard",
        },
        {
            "type": "multi",
            "text": "Which of these are mammals?",
            "choices": ["Dolphin", "Shark", "Bat", "Penguin"],
            "correct": [0, 2],
            "time_limit_s": 30,
            "points": "standard",
        },
        {
            "type": "true_false",
            "text": "The Sun is a star.",
            "correct": True,
            "time_limit_s": 10,
            "points": "standard",
        },
        {
            "type": "choice",
            "text": "2 + 2 = ?",
            "choices": ["3", "4"],
            "correct": [1],
            "time_limit_s": 5,
            "points": "standard",
        },
    ]
    async with http.get(server.base_url + "/api/quizzes") as response:
        assert created["quiz_id"] in {q["quiz_id"] for q in (await response.json())["quizzes"]}


async def test_a_csv_with_its_header_on_row_one_and_semicolons(server, http):
    rows = [
        ["Capital of Spain?", "Madrid", "Rome", "", "", "", "1"],
        ["Capital of Italy?", "Madrid", "Rome", "", "", "60", "2"],
    ]
    status, created = await import_form(http, server, csv_file(rows, ";"), "Capitals of Europe.csv")
    assert status == 201, created
    assert created["title"] == "Capitals of Europe"  # from the file's name
    questions = stored_document(server, created["quiz_id"])["questions"]
    assert [q["time_limit_s"] for q in questions] == [20, 60]  # an empty time limit is 20 s
    assert [q["correct"] for q in questions] == [[0], [1]]


async def test_excel_true_and_false_cells_make_a_true_false_question(server, http):
    # Excel turns a typed "true" into a boolean cell.
    status, created = await import_file(
        http, server, kahoot_xlsx([["Water is wet.", True, False, None, None, 20, 2]])
    )
    assert status == 201, created
    (question,) = stored_document(server, created["quiz_id"])["questions"]
    assert question["type"] == "true_false" and question["correct"] is False


async def test_the_templates_download_and_import_as_they_are(server, http):
    for fmt, content_type in (("xlsx", XLSX), ("csv", "text/csv")):
        async with http.get(f"{server.base_url}/api/quizzes/template.{fmt}") as response:
            assert response.status == 200
            assert response.headers["Content-Type"].startswith(content_type)
            assert f'filename="quiz-template.{fmt}"' in response.headers["Content-Disposition"]
            data = await response.read()
        status, created = await import_form(http, server, data, f"quiz-template.{fmt}")
        assert status == 201, created
        assert created["title"] == "My quiz" and created["question_count"] == 3
        types = [q["type"] for q in stored_document(server, created["quiz_id"])["questions"]]
        assert types == ["choice", "multi", "true_false"]


async def test_the_xlsx_template_has_kahoots_header_on_row_eight(server, http):
    async with http.get(f"{server.base_url}/api/quizzes/template.xlsx") as response:
        data = await response.read()
    sheet = load_workbook(io.BytesIO(data)).active
    assert [sheet.cell(row=8, column=c).value for c in range(2, 9)] == KAHOOT_HEADERS
    assert sheet["B9"].value == "What is the capital of France?" and sheet["H9"].value == 2


# ------------------------------------------------------------------ refusing, and storing nothing


async def test_one_bad_row_imports_nothing_and_is_named(server, http):
    rows = [*GOOD_ROWS[:2], ["Which is blue?", "Sky", "Grass", None, None, 20, 5], GOOD_ROWS[3]]
    before = stored_events(server)
    status, body = await import_file(http, server, kahoot_xlsx(rows))
    assert status == 400
    error = body["error"]
    assert error["code"] == "import_invalid"
    assert error["problems"] == [
        {
            "path": "questions[2].correct",
            "message": "There is no answer 5: this row has 2 answers",
            "row": 11,
            "column": "H",
            "code": "cell_correct_no_such_answer",  # for the page's words (docs/api.md, "Problem codes")
            "params": {"numbers": "5", "answers": 2},
        }
    ]
    assert "Nothing was imported" in error["message"] and "row 11, column H" in error["message"]
    assert error["details"] == ["row 11, column H: There is no answer 5: this row has 2 answers"]
    assert stored_events(server) == before


async def test_every_problem_is_reported_with_its_row_and_column(server, http):
    long_answer = "x" * 130
    rows = [
        ["", "a", "b", None, None, 20, 1],  # row 9: no question
        ["Q2", "a", None, None, None, 20, 1],  # row 10: one answer
        ["Q3", "a", "b", None, None, 300, 1],  # row 11: time limit out of range
        ["Q4", "a", "b", None, None, 20, None],  # row 12: no right answer
        ["Q5", "a", "b", None, None, 20, "one"],  # row 13: not a number
        ["Q6", "a", long_answer, None, None, 20, 1],  # row 14: the quiz's own rule (120 characters)
        ["Q7", "a", None, "c", None, 20, 1],  # row 15: a gap
    ]
    before = stored_events(server)
    status, body = await import_file(http, server, kahoot_xlsx(rows))
    assert status == 400
    places = {(p["row"], p["column"]) for p in body["error"]["problems"]}
    assert places == {(9, "B"), (10, "C"), (11, "G"), (12, "H"), (13, "H"), (15, "D")}
    messages = {p["row"]: p["message"] for p in body["error"]["problems"]}
    assert messages[9] == "The question is empty: write the question in this cell"
    assert "from 5 to 240" in messages[11] and "'300'" in messages[11]
    assert stored_events(server) == before
    # Row 14 breaks only the quiz's own rules, which are checked once the rows are read:
    # fixed the others, it is named too, at its cell.
    status, body = await import_file(
        http, server, kahoot_xlsx([GOOD_ROWS[0], ["Q6", "a", long_answer, None, None, 20, 1]])
    )
    assert status == 400
    (problem,) = body["error"]["problems"]
    assert (problem["row"], problem["column"], problem["path"]) == (10, "D", "questions[1].choices[1]")
    assert "120 characters" in problem["message"]
    assert stored_events(server) == before


async def test_formulas_are_refused_naming_the_cell(server, http):
    before = stored_events(server)
    status, body = await import_file(http, server, kahoot_xlsx(GOOD_ROWS, formula_at="H10"))
    assert status == 400
    (problem,) = body["error"]["problems"]
    assert (problem["row"], problem["column"]) == (10, "H") and "formula" in problem["message"]
    status, body = await import_file(
        http, server, csv_file([["Q", "a", "b", "", "", "20", "=1+0"]]), content_type="text/csv"
    )
    assert status == 400
    (problem,) = body["error"]["problems"]
    assert (problem["row"], problem["column"]) == (2, "G") and "formula" in problem["message"]
    assert stored_events(server) == before


async def test_ten_thousand_rows_are_refused(server, http):
    rows = [[f"Question {i}?", "a", "b", None, None, 20, 1] for i in range(10_000)]
    before = stored_events(server)
    status, body = await import_file(http, server, ten_thousand_rows_xlsx())
    assert status == 400
    assert "more than 1,000 rows" in body["error"]["message"]
    status, body = await import_file(http, server, csv_file(rows), content_type="text/csv")
    assert status == 400
    assert "more than 1,000 rows" in str(body["error"]["problems"])
    # 101 questions: within the rows, beyond a quiz.
    status, body = await import_file(http, server, kahoot_xlsx(rows[:101]))
    assert status == 400
    assert "at most 100 questions" in str(body["error"])
    assert stored_events(server) == before


async def test_files_that_are_not_spreadsheets_or_too_big_are_refused(server, http):
    before = stored_events(server)
    status, body = await import_form(http, server, b"PK\x03\x04 not really a zip", "quiz.xlsx")
    assert status == 400 and "not an .xlsx file" in body["error"]["message"]
    status, body = await import_form(http, server, "Question;Answer 1\né".encode("latin-1"), "quiz.csv")
    assert status == 400 and "UTF-8" in body["error"]["message"]
    status, body = await import_form(http, server, b"just some words\n", "notes.csv")
    assert status == 400 and "No header row found" in body["error"]["message"]
    # A zip bomb: a few hundred kilobytes that unpack to 100 MB.
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/worksheets/sheet1.xml", b" " * (100 * 1024 * 1024))
    status, body = await import_form(http, server, bomb.getvalue(), "bomb.xlsx")
    assert status == 400 and "unpacks to far more" in body["error"]["message"]
    # More than 5 MB: refused from the declared length, and while reading a chunked body.
    status, body = await import_file(http, server, b"a" * (6 * 1024 * 1024), content_type="text/csv")
    assert status == 413 and body["error"]["code"] == "import_too_big"

    async def chunks():
        for _ in range(50):
            yield b"b" * (1024 * 1024)

    status, body = await import_file(http, server, chunks(), content_type="text/csv")
    assert status == 413
    status, body = await import_form(http, server, b"c" * (6 * 1024 * 1024), "big.xlsx")
    assert status == 413
    # JSON quiz files carry pictures: 6 MB is within their limit when they say what they are.
    six_mb_of_json = b'{"title": "' + b"x" * (6 * 1024 * 1024) + b'"'
    status, body = await import_file(http, server, six_mb_of_json, content_type="application/octet-stream")
    assert status == 413
    status, body = await import_file(http, server, six_mb_of_json, content_type="application/json")
    assert status == 400 and "not valid JSON" in body["error"]["message"]
    status, body = await import_form(http, server, six_mb_of_json, "quiz.json")
    assert status == 400 and "not valid JSON" in body["error"]["message"]
    assert stored_events(server) == before


async def test_unknown_format_and_empty_body(server, http):
    status, body = await import_file(http, server, b"x", query="?format=ods")
    assert status == 400 and "Unknown format" in body["error"]["message"]
    status, body = await import_file(http, server, b"", content_type="application/octet-stream")
    assert status == 400 and "empty" in body["error"]["message"]


# ------------------------------------------------------------------ exporting, and round trips

EVERY_KIND = {
    "title": "Round trip",
    "questions": [
        {
            "type": "choice",
            "text": "=1+1 is two?",
            "choices": ["yes", "-no", "@maybe", "'quoted"],
            "correct": [0],
        },
        {
            "type": "multi",
            "text": "Pick two",
            "choices": ["a", "b", "c", "d", "e"],
            "correct": [1, 4],
            "points": "double",
        },
        {"type": "true_false", "text": "True?", "correct": False, "time_limit_s": 240, "points": "none"},
        {
            "type": "choice",
            "text": "Six?",
            "choices": ["1", "2", "3", "4", "5", "6"],
            "correct": [5],
            "time_limit_s": 7,
        },
    ],
}
WITH_SLIDER = {
    "title": "Has a slider",
    "questions": [
        {"type": "choice", "text": "Q", "choices": ["a", "b"], "correct": [0]},
        {"type": "slider", "text": "How many?", "min": 0, "max": 10, "step": 1, "value": 5, "tolerance": 1},
        {"type": "poll", "text": "Liked it?", "choices": ["yes", "no"]},
    ],
}


async def test_xlsx_and_csv_round_trips_give_the_same_quiz(server, http):
    quiz_id = await upload(http, server, EVERY_KIND)
    original = stored_document(server, quiz_id)
    for fmt in ("xlsx", "csv"):
        status, data, headers = await export(http, server, quiz_id, fmt)
        assert status == 200
        assert (
            headers["Content-Disposition"]
            == f"attachment; filename=\"Round-trip.{fmt}\"; filename*=UTF-8''Round-trip.{fmt}"
        )
        status, created = await import_form(http, server, data, f"export.{fmt}")
        assert status == 201, created
        assert stored_document(server, created["quiz_id"]) == original, fmt
    # Text that looks like a formula is text in the file, never a formula.
    _, data, _ = await export(http, server, quiz_id, "xlsx")
    sheet = load_workbook(io.BytesIO(data)).active
    assert sheet["B9"].value == "=1+1 is two?" and sheet["B9"].data_type == "s"
    _, data, _ = await export(http, server, quiz_id, "csv")
    assert "'=1+1 is two?" in data.decode("utf-8-sig")


async def test_json_round_trip_gives_the_same_quiz(server, http):
    quiz_id = await upload(http, server, WITH_SLIDER)
    status, data, headers = await export(http, server, quiz_id, "json")
    assert status == 200 and headers["Content-Type"].startswith("application/json")
    bundle = json.loads(data)
    assert bundle["format"] == "quiz-actors-quiz" and bundle["version"] == 1 and bundle["media"] == {}
    status, created = await import_file(http, server, data, content_type="application/json")
    assert status == 201, created
    assert stored_document(server, created["quiz_id"]) == stored_document(server, quiz_id)
    # A plain quiz document imports too, and its problems come with their paths.
    status, body = await import_form(
        http, server, json.dumps({"title": "T", "questions": []}).encode(), "q.json"
    )
    assert status == 400
    assert body["error"]["problems"][0]["path"] == "questions"


async def test_a_quiz_the_layout_cannot_hold_is_refused_by_name(server, http):
    quiz_id = await upload(http, server, WITH_SLIDER)
    for fmt in ("xlsx", "csv"):
        status, data, _ = await export(http, server, quiz_id, fmt)
        assert status == 400
        error = json.loads(data)["error"]
        assert error["code"] == "export_unsupported"
        assert "question 2 (slider); question 3 (poll)" in error["message"] and "as JSON" in error["message"]


async def test_export_of_an_unknown_quiz_or_format(server, http):
    status, data, _ = await export(http, server, "00000000-0000-0000-0000-000000000000", "json")
    assert status == 404 and json.loads(data)["error"]["code"] == "quiz_not_found"
    status, data, _ = await export(http, server, "nonsense", "json")
    assert status == 404
    quiz_id = await upload(http, server, EVERY_KIND)
    status, data, _ = await export(http, server, quiz_id, "pdf")
    assert status == 400


async def test_the_admin_key_guards_import_and_export_not_templates(settings, clock, http):
    server = await RunningServer(replace(settings, admin_key="s3cret"), clock).start()
    key = {"Authorization": "Bearer s3cret"}
    try:
        status, body = await import_file(http, server, kahoot_xlsx(GOOD_ROWS))
        assert status == 401 and body["error"]["code"] == "unauthorized"
        async with http.post(
            f"{server.base_url}/api/quizzes/import",
            data=kahoot_xlsx(GOOD_ROWS),
            headers={**key, "Content-Type": XLSX},
        ) as response:
            assert response.status == 201
            quiz_id = (await response.json())["quiz_id"]
        assert (await export(http, server, quiz_id, "json"))[0] == 401
        async with http.get(f"{server.base_url}/api/quizzes/{quiz_id}/export", headers=key) as response:
            assert response.status == 200
        async with http.get(f"{server.base_url}/api/quizzes/template.xlsx") as response:
            assert response.status == 200
    finally:
        await server.stop()


# ------------------------------------------------------------------ JSON quiz files with pictures


def bundle_with(picture: bytes, media_id: str = "f" * 64) -> bytes:
    quiz = {
        "title": "With a picture",
        "questions": [
            {
                "type": "choice",
                "text": "Which colour?",
                "choices": ["red", "blue"],
                "correct": [0],
                "image": media_id,
            }
        ],
    }
    media = {media_id: {"content_type": "image/png", "data": base64.b64encode(picture).decode()}}
    return json.dumps({"format": "quiz-actors-quiz", "version": 1, "quiz": quiz, "media": media}).encode()


async def test_a_json_quiz_file_brings_its_pictures(server, http):
    picture = pictures.png(30, 20, (255, 0, 0))
    status, created = await import_file(http, server, bundle_with(picture), content_type="application/json")
    assert status == 201, created
    # The picture was checked and re-encoded like any upload: the same upload names the same stored picture.
    async with http.post(server.base_url + "/api/media", data=picture) as response:
        media_id = (await response.json())["media_id"]
    before = stored_events(server)
    async with http.get(f"{server.base_url}/media/{media_id}") as response:
        assert response.status == 200 and response.headers["Content-Type"] == "image/png"
    # Imported again: the picture is already stored, only the quiz is new.
    status, _ = await import_file(http, server, bundle_with(picture), content_type="application/json")
    assert status == 201
    assert stored_events(server) == before + 2  # the quiz and the catalog's new entry


async def test_a_json_quiz_file_with_a_hostile_picture_imports_nothing(server, http):
    before = stored_events(server)
    for bad in (pictures.HTML_AS_PNG, pictures.SVG_WITH_SCRIPT, pictures.png_declaring(8000, 8000)):
        status, body = await import_file(http, server, bundle_with(bad), content_type="application/json")
        assert status == 400
        (problem,) = body["error"]["problems"]
        assert problem["path"] == "media." + "f" * 64
    status, body = await import_file(
        http,
        server,
        bundle_with(b"").replace(b'"data": ""', b'"data": "not base64!"'),
        content_type="application/json",
    )
    assert status == 400 and "not valid base64" in body["error"]["problems"][0]["message"]
    assert stored_events(server) == before


async def test_a_quiz_with_pictures_goes_out_as_json_and_comes_back_elsewhere(
    server, http, settings, clock, tmp_path
):
    async with http.post(server.base_url + "/api/media", data=pictures.jpeg_with_gps(320, 200)) as response:
        picture = await response.json()
    quiz = {
        "title": "Pictures",
        "questions": [
            {
                "type": "choice",
                "text": "Which colour is on the left?",
                "choices": ["red", "blue"],
                "correct": [0],
                "image": picture["media_id"],
                "image_on_phones": True,
            },
            {
                "type": "slider",
                "text": "How many?",
                "min": 0,
                "max": 10,
                "step": 1,
                "value": 5,
                "tolerance": 1,
            },
        ],
    }
    quiz_id = await upload(http, server, quiz)
    status, data, _ = await export(http, server, quiz_id, "json")
    assert status == 200
    bundle = json.loads(data)
    assert set(bundle["media"]) == {picture["media_id"]}
    assert base64.b64decode(bundle["media"][picture["media_id"]]["data"])[:2] == b"\xff\xd8"  # a JPEG
    # Back into the same server: the same quiz, its picture found already stored.
    before = stored_events(server)
    status, created = await import_file(http, server, data, content_type="application/json")
    assert status == 201, created
    assert stored_document(server, created["quiz_id"]) == stored_document(server, quiz_id)
    assert stored_events(server) == before + 2  # the quiz and its catalog entry: no picture
    # Into a server with an empty store: the picture comes with the quiz and is served there.
    elsewhere = await RunningServer(
        replace(settings, store=f"sqlite:///{tmp_path}/other.sqlite3"), clock
    ).start()
    try:
        status, created = await import_file(http, elsewhere, data, content_type="application/json")
        assert status == 201, created
        (first, second) = stored_document(elsewhere, created["quiz_id"])["questions"]
        assert first["image_on_phones"] is True and second["type"] == "slider"
        async with http.get(f"{elsewhere.base_url}/media/{first['image']}") as response:
            assert response.status == 200 and response.headers["Content-Type"] == "image/jpeg"
            shown = Image.open(io.BytesIO(await response.read()))
        assert shown.size == (320, 200)
    finally:
        await elsewhere.stop()


async def test_a_quiz_pointing_at_a_picture_that_is_not_there_imports_nothing(server, http):
    quiz = {
        "title": "Missing picture",
        "questions": [
            {"type": "choice", "text": "Q", "choices": ["a", "b"], "correct": [0], "image": "e" * 64}
        ],
    }
    before = stored_events(server)
    status, body = await import_file(http, server, json.dumps(quiz).encode(), content_type="application/json")
    assert status == 400
    (problem,) = body["error"]["problems"]
    assert problem["path"] == "questions[0].image" and "not on the server" in problem["message"]
    assert stored_events(server) == before
