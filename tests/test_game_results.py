"""The game report (tools/game_results.py) and its spreadsheets, for every question type.

The room is played on the aggregate with exact times; the report must say what
each player answered in words, count each question's results, leave polls out
of the accuracy and the hardest questions, and keep an open question out of a
player's own results.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import openpyxl

from quiz_actors.domain.questions.order import right_order_as_shown
from quiz_actors.domain.quiz import validate_quiz_document
from quiz_actors.domain.room import Room
from quiz_actors.tools.game_results import game_results, player_results
from quiz_actors.tools.spreadsheets import defused, report_csv, report_xlsx

EVERY_TYPE = validate_quiz_document(
    json.loads((Path(__file__).resolve().parents[1] / "quiz_actors/samples/every-type.json").read_text())
)
T0 = 1_000_000


def played(until_question: int = 7, end: bool = True) -> tuple[Room, list[Any]]:
    """Ann answers every question right within 0.5 s; Ben answers each wrongly (and skips the
    order); Cat is removed after the first question."""
    room = Room.open(code="654321", quiz_id="q", quiz=EVERY_TYPE, host_id="host", host_name="Host", at=T0)
    for user in ("ann", "ben", "cat"):
        room.join(user, user.title(), T0, 100)
    items = EVERY_TYPE["questions"][5]["items"]
    right = [{"choice": 1}, {"choices": [0, 2]}, {"choice": 0}, {"text": " madrid"}, {"value": 95},
             {"order": right_order_as_shown(items)}, {"choice": 1}]  # fmt: skip
    wrong = [{"choice": 0}, {"choices": [0]}, {"choice": 1}, {"text": "Barcelona"}, {"value": 150}, None,
             {"choice": 3}]  # fmt: skip
    at = T0
    room.start("host", at)
    for index in range(until_question):
        room.answer("ann", index, right[index], at + 100)
        if wrong[index] is not None:
            room.answer("ben", index, wrong[index], at + 2000)
        if index == 0:
            room.answer("cat", index, {"choice": 1}, at + 3000)
        at += 5000
        room.close_question("skipped", at)
        if index == 0:
            room.kick("host", "cat", at)
        if index + 1 < until_question or end:
            room.next("host", at)
    return room, list(room.collect_events())


def test_every_type_is_counted_and_told_in_words() -> None:
    room, events = played()
    report = game_results(events)
    assert report is not None and report["finished"]
    assert [(r["name"], r["right"], r["answered"]) for r in report["ranking"]] == [
        ("Ann", 6, 7),
        ("Ben", 0, 6),
    ]
    ben = next(p for p in report["players"] if p["name"] == "Ben")
    assert [(a["answer"], a["result"]) for a in ben["answers"]] == [
        ("Venus", "wrong"),
        ("Dolphin", "wrong"),
        ("False", "wrong"),
        ("Barcelona", "wrong"),
        ("150", "wrong"),
        (None, "no_answer"),
        ("Ordering", "unjudged"),
    ]
    ann = next(p for p in report["players"] if p["name"] == "Ann")
    assert [a["answer"] for a in ann["answers"]][:6] == [
        "Mars",
        "Dolphin, Bat",
        "True",
        "madrid",
        "95",
        "Atom > Cell > Mouse > Elephant",
    ]
    cat = next(p for p in report["players"] if p["name"] == "Cat")
    assert (cat["status"], cat["rank"], len(cat["answers"])) == ("removed", None, 1)
    first, poll = report["questions"][0], report["questions"][6]
    assert (first["players"], first["right"], first["accuracy"]) == (3, 2, 2 / 3)
    assert (poll["judged"], poll["accuracy"], poll["answered"]) == (False, None, 2)
    assert [a["answer"] for a in poll["answers"]] == ["Ordering", "Typing"]
    # Every judged question but the first was answered right by one player of two.
    assert [h["number"] for h in report["hardest"]] == [2, 3, 4]
    assert report["questions"][4]["reveal"]["value"] == 100  # the slider's reveal, as the host saw it


def test_an_open_question_stays_out_of_a_players_results() -> None:
    room, events = played(until_question=2, end=False)
    room.next("host", T0 + 20_000)  # question 3 shown
    room.answer("ann", 2, {"choice": 0}, T0 + 20_100)
    report = game_results([*events, *room.collect_events()])
    assert report is not None and not report["finished"]
    assert report["questions"][-1]["open"] is True
    mine = player_results(report, "ann")
    assert mine is not None and [a["number"] for a in mine["answers"]] == [1, 2]
    assert player_results(report, "nobody") is None


def test_spreadsheet_cells_never_become_formulas() -> None:
    assert defused("=1+1") == "'=1+1"
    assert defused("@SUM(A1)") == "'@SUM(A1)"
    assert defused("+cmd") == "'+cmd"
    assert defused("-2+3") == "'-2+3"
    assert defused("\t=x") == "'\t=x"
    assert defused("-5") == "-5" and defused("-0.5") == "-0.5"  # a slider's answer stays a number
    assert defused("Ann") == "Ann"

    quiz = validate_quiz_document(
        {
            "title": "=cmd|' /C calc'!A0",
            "questions": [{"text": "+SUM(1)", "choices": ["=1+1", "@x"], "correct": [0], "time_limit_s": 20}],
        }
    )
    room = Room.open(code="111111", quiz_id="q", quiz=quiz, host_id="h", host_name="H", at=T0)
    room.join("u", "=HYPERLINK(1)", T0, 10)
    room.start("h", T0)
    room.answer("u", 0, {"choice": 0}, T0 + 10)
    room.close_question("all_answered", T0 + 10)
    report = game_results(list(room.collect_events()))
    assert report is not None
    rows = list(csv.reader(io.StringIO(report_csv(report))))
    assert rows[1][1] == "'=HYPERLINK(1)" and rows[1][4] == "'+SUM(1)" and rows[1][6] == "'=1+1"
    book = openpyxl.load_workbook(io.BytesIO(report_xlsx(report)))
    cells = [c for sheet in book for row in sheet.iter_rows() for c in row if isinstance(c.value, str)]
    assert {c.data_type for c in cells} == {"s"}
    assert "=HYPERLINK(1)" in {c.value for c in cells} and "=1+1" in {c.value for c in cells}
