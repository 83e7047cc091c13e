"""Kahoot's layout and the spreadsheet files, without a server: what goes out comes back in."""

from __future__ import annotations

import io

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook

from quiz_actors.domain.quiz import validate_quiz_document
from quiz_actors.interchange.kahoot import ExportRefused, read_sheet, sheet_rows
from quiz_actors.interchange.problems import ImportRefused, quiz_problems
from quiz_actors.interchange.sheets import read_csv, read_xlsx, write_csv, write_xlsx

# Text a quiz may hold: no control characters but newlines, no half characters, trimmed.
TEXT = (
    st.text(
        alphabet=st.characters(
            blacklist_categories=("Cc", "Cs", "Cn", "Co"), blacklist_characters="\u2028\u2029"
        )
        | st.sampled_from(["\n", "=", "+", "-", "@", "'", '"', ",", ";"]),
        min_size=1,
        max_size=40,
    )
    .map(str.strip)
    .filter(bool)
)


@st.composite
def sheet_questions(draw):
    kind = draw(st.sampled_from(["choice", "multi", "true_false"]))
    question = {"type": kind, "text": draw(TEXT), "time_limit_s": draw(st.integers(5, 240))}
    question["points"] = draw(st.sampled_from(["standard", "double", "none"]))
    if kind == "true_false":
        question["correct"] = draw(st.booleans())
        return question
    choices = draw(st.lists(TEXT.filter(lambda t: len(t) <= 120), min_size=2, max_size=6))
    # Two choices "True" and "False" with one right one are read as a true-or-false question (documented).
    if len(choices) == 2 and [c.lower() for c in choices] == ["true", "false"]:
        choices.append("Maybe")
    right = draw(st.lists(st.integers(0, len(choices) - 1), min_size=1, max_size=len(choices), unique=True))
    if kind == "choice":
        right = right[:1]
    elif len(right) == 1:
        question["type"] = "choice"  # one right answer is a choice question in the layout
    question.update(choices=choices, correct=sorted(right))
    return question


@st.composite
def quizzes(draw):
    return validate_quiz_document(
        {"title": draw(TEXT), "questions": draw(st.lists(sheet_questions(), min_size=1, max_size=8))}
    )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(quizzes())
def test_a_quiz_written_to_csv_reads_back_the_same(quiz):
    back = read_sheet(read_csv(write_csv(sheet_rows(quiz)))).document
    assert validate_quiz_document(back) == quiz


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(quizzes())
def test_a_quiz_written_to_xlsx_reads_back_the_same(quiz):
    back = read_sheet(read_xlsx(write_xlsx(sheet_rows(quiz)))).document
    assert validate_quiz_document(back) == quiz


def test_text_that_looks_like_a_formula_is_written_as_text():
    rows = [['=HYPERLINK("http://x")', "+1", "-2", "@SUM(A1)", "'quoted", "plain"]]
    sheet = load_workbook(io.BytesIO(write_xlsx(rows))).active
    assert [c.data_type for c in sheet[1]] == ["s"] * 6
    text = write_csv(rows).decode("utf-8-sig")
    assert text == "\"'=HYPERLINK(\"\"http://x\"\")\",'+1,'-2,'@SUM(A1),''quoted,plain\r\n"
    assert [c for c in read_csv(write_csv(rows))[0].cells] == rows[0]


def test_cells_read_as_a_person_wrote_them():
    # Spreadsheet programs store typed numbers as numbers (2000 as 2000.0): they read back as typed.
    header = ["Question", "Answer 1", "Answer 2", "Time limit", "Correct answer(s)"]
    data = write_xlsx([header, ["Year?", 1999, 2000.0, 30.0, "1 ; 2"], ["Pi?", 3.14, 3, 20, 1.0]])
    year, pi = read_sheet(read_xlsx(data)).document["questions"]
    assert year["choices"] == ["1999", "2000"] and year["time_limit_s"] == 30
    assert year["type"] == "multi" and year["correct"] == [0, 1]
    assert pi["choices"] == ["3.14", "3"] and pi["correct"] == [0]


@pytest.mark.parametrize("delimiter", [",", ";", "\t"])
def test_csv_separators(delimiter):
    text = delimiter.join(["Question", "Answer 1", "Answer 2", "Correct answer(s)"]) + "\n"
    text += delimiter.join(["Q, with a comma; and a semicolon", "a", "b", "2"]) + "\n"
    if delimiter != "\t":
        text = text.replace("Q, with a comma; and a semicolon", '"Q, with a comma; and a semicolon"')
    (question,) = read_sheet(read_csv(text.encode())).document["questions"]
    assert question["text"] == "Q, with a comma; and a semicolon" and question["correct"] == [1]


def test_a_quiz_with_other_kinds_is_not_written_as_a_sheet():
    quiz = validate_quiz_document(
        {
            "title": "T",
            "questions": [
                {"type": "type_answer", "text": "Capital?", "accepted": ["Madrid"]},
                {"type": "order", "text": "Order", "items": ["a", "b"]},
                {"type": "choice", "text": "Q", "choices": ["a", "b"], "correct": [0]},
            ],
        }
    )
    with pytest.raises(ExportRefused, match=r"question 1 \(type_answer\); question 2 \(order\)"):
        sheet_rows(quiz)


def test_a_sheet_without_the_needed_columns_says_which():
    with pytest.raises(ImportRefused) as refused:
        read_sheet(read_csv(b"Question,Answer 1,Answer 3\nQ,a,b\n"))
    (problem,) = refused.value.problems
    assert problem.row == 1 and "'Answer 2'" in problem.message and "'Correct answer(s)'" in problem.message


@pytest.mark.parametrize(
    ("detail", "path", "message"),
    [
        (
            "questions[0].choices[1]: at most 120 characters",
            "questions[0].choices[1]",
            "at most 120 characters",
        ),
        (
            'questions[2] (multi): "correct" lists an index twice',
            "questions[2].correct",
            '"correct" lists an index twice',
        ),
        ("title: must be a non-empty string", "title", "must be a non-empty string"),
        ("questions: at most 100", "questions", "at most 100"),
        ("the quiz must be a JSON object", "", "the quiz must be a JSON object"),
    ],
)
def test_the_quiz_checks_problems_are_read_back_to_their_fields(detail, path, message):
    class Old(ValueError):
        details = [detail]

    assert [(p.path, p.message, p.code) for p in quiz_problems(Old())] == [(path, message, "")]
