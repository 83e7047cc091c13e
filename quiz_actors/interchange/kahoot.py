"""Kahoot's spreadsheet template layout: rows of cells to a quiz document, and back.

Kahoot's template has a few rows of instructions, a header row (row 8), and one
question per row below it: the question (column B), answers 1 to 4 (C to F),
the time limit in seconds (G) and the numbers of the right answers (H, like
``1`` or ``1,3``). Reading finds the header row by its words, not by its
place, so a .csv with the header on row 1 works too, and columns are matched
by their headers, in any order. Extra columns this server reads: ``Answer 5``
and ``Answer 6`` (a question has up to 6 answers here), and ``Points``
(standard, double or none). Above the header, a row starting ``Title`` or
``Description`` gives the quiz's title or description in the next cell.

A row with one right answer is a ``choice`` question, with several a ``multi``
one; a row whose answers are exactly ``True`` and ``False`` (in that order) and
one right answer is a ``true_false`` question. Only those three types fit the
layout: exporting a quiz with a slider, order, type-answer or poll question to
a spreadsheet is refused, naming them (its JSON export holds every type).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from quiz_actors.domain.quiz import MAX_QUESTIONS
from quiz_actors.interchange.problems import ImportProblem, ImportRefused
from quiz_actors.interchange.sheets import Cell, Row, column_letter

HEADER_ROW = 8  # where Kahoot's template (and this server's export) puts the header
MAX_ANSWERS = 6
MAX_HEADER_SEARCH = 30  # rows searched for the header
DEFAULT_TIME_LIMIT_S = 20
KAHOOT_TIME_LIMITS = (5, 10, 20, 30, 60, 90, 120, 240)
MIN_TIME_LIMIT_S, MAX_TIME_LIMIT_S = 5, 240
POINTS = ("standard", "double", "none")
SHEET_TYPES = ("choice", "multi", "true_false")
TRUE_FALSE = ("True", "False")

QUESTION_HEADER = "Question - max 120 characters"
TIME_HEADER = "Time limit (sec) – 5, 10, 20, 30, 60, 90, 120, or 240 secs"
CORRECT_HEADER = "Correct answer(s) - choose at least one"
POINTS_HEADER = "Points (standard, double or none)"
INSTRUCTIONS = (
    "One question per row, from row 9. Fill Question, at least Answer 1 and Answer 2, "
    "and the number(s) of the right answer(s) in Correct answer(s): 1, or 1,3 for several.",
    "Time limit: seconds, 5 to 240 (Kahoot uses 5, 10, 20, 30, 60, 90, 120 or 240); empty means 20.",
    "Answers True and False (in that order) with one right answer make a true-or-false question.",
)


def answer_header(n: int) -> str:
    return f"Answer {n} - max 75 characters"


class ExportRefused(ValueError):
    """A quiz the layout cannot hold; the message names the questions."""


# ---------------------------------------------------------------------------- reading


@dataclass
class Layout:
    """Which column holds what, found from the header row's words."""

    header_row: int
    question: int | None = None
    answers: dict[int, int] = field(default_factory=dict)  # answer number (1-based) → column index
    time_limit: int | None = None
    correct: int | None = None
    points: int | None = None

    def letter(self, index: int | None) -> str | None:
        return column_letter(index) if index is not None else None


@dataclass
class Sheet:
    """What a spreadsheet says: a quiz document, and where each question came from."""

    document: dict[str, Any]
    layout: Layout
    rows: list[int]  # the row of each question, by index
    title_at: tuple[int, str] | None = None  # the title cell's row and column, when there is one

    def place(self, path: str) -> tuple[int | None, str | None]:
        """The row and column a document path (``questions[3].choices[1]``) came from."""
        if path.startswith("title"):
            return self.title_at if self.title_at else (None, None)
        match = re.match(r"questions\[(\d+)\](?:\.(\w+)(?:\[(\d+)\])?)?", path)
        if match is None or int(match[1]) >= len(self.rows):
            return None, None
        row, name, sub = self.rows[int(match[1])], match[2], match[3]
        layout = self.layout
        if name == "text":
            return row, layout.letter(layout.question)
        if name == "choices":
            number = int(sub) + 1 if sub is not None else 1
            return row, layout.letter(layout.answers.get(number))
        if name == "correct":
            return row, layout.letter(layout.correct)
        if name == "time_limit_s":
            return row, layout.letter(layout.time_limit)
        if name == "points":
            return row, layout.letter(layout.points)
        return row, None


def read_sheet(rows: Sequence[Row]) -> Sheet:
    """The quiz in ``rows`` (Kahoot's layout), or ``ImportRefused`` with every problem found."""
    layout = _find_layout(rows)
    problems: list[ImportProblem] = []
    title_at, title = _labelled(rows, layout.header_row, ("title", "quiz title"))
    _, description = _labelled(rows, layout.header_row, ("description",))
    questions: list[dict[str, Any]] = []
    numbers: list[int] = []
    for row in rows:
        if row.number <= layout.header_row or not _has_question(row, layout):
            continue
        question = _read_row(row, layout, len(numbers), problems)
        numbers.append(row.number)
        if question is not None:
            questions.append(question)
    if len(numbers) > MAX_QUESTIONS:
        problems.insert(
            0,
            ImportProblem(
                f"A quiz has at most {MAX_QUESTIONS} questions; this sheet has {len(numbers)} "
                f"(rows {numbers[0]} to {numbers[-1]}). Split it into several quizzes",
                "questions",
                code="sheet_questions_too_many",
                params={
                    "max": MAX_QUESTIONS,
                    "count": len(numbers),
                    "first": numbers[0],
                    "last": numbers[-1],
                },
            ),
        )
    if not questions and not problems:
        problems.append(
            ImportProblem(
                f"There are no questions below the header (row {layout.header_row})",
                "questions",
                code="sheet_no_questions",
                params={"header_row": layout.header_row},
            )
        )
    if problems:
        raise ImportRefused(problems)
    document: dict[str, Any] = {"title": title or "", "questions": questions}
    if description:
        document["description"] = description
    return Sheet(document=document, layout=layout, rows=numbers, title_at=title_at)


def _find_layout(rows: Sequence[Row]) -> Layout:
    for row in rows[:MAX_HEADER_SEARCH]:
        words = [_text(v).lower() for v in row.cells]
        if not any(w.startswith("question") for w in words) or not any(
            re.match(r"answer\s*1\b", w) for w in words
        ):
            continue
        layout = Layout(header_row=row.number)
        for index, word in enumerate(words):
            if word.startswith("question") and layout.question is None:
                layout.question = index
            elif (match := re.match(r"answer\s*(\d+)\b", word)) and 1 <= int(match[1]) <= MAX_ANSWERS:
                layout.answers.setdefault(int(match[1]), index)
            elif word.startswith("time"):
                layout.time_limit = index
            elif word.startswith("correct"):
                layout.correct = index
            elif word.startswith("points"):
                layout.points = index
        missing = [
            name
            for name, present in (
                ("Answer 2", 2 in layout.answers),
                ("Correct answer(s)", layout.correct is not None),
            )
            if not present
        ]
        if missing:
            raise ImportRefused(
                [
                    ImportProblem(
                        f"The header row has no {' and no '.join(repr(m) for m in missing)} column",
                        row=row.number,
                        code="header_columns_missing",
                        params={"columns": ", ".join(f"“{m}”" for m in missing)},
                    )
                ]
            )
        return layout
    raise ImportRefused(
        [
            ImportProblem(
                'No header row found: the row with "Question", "Answer 1", "Answer 2", … and '
                '"Correct answer(s)" (row 8 in Kahoot\'s template). Start from the template: '
                "GET /api/quizzes/template.xlsx",
                code="header_missing",
            )
        ]
    )


def _labelled(
    rows: Sequence[Row], header_row: int, labels: tuple[str, ...]
) -> tuple[tuple[int, str] | None, str]:
    """The text beside a label cell (``Title``) above the header row."""
    for row in rows:
        if row.number >= header_row:
            break
        for index, value in enumerate(row.cells):
            if _text(value).lower().rstrip(":").strip() in labels:
                for after in range(index + 1, len(row.cells)):
                    text = _text(row.cells[after])
                    if text:
                        return (row.number, column_letter(after)), text
    return None, ""


def _has_question(row: Row, layout: Layout) -> bool:
    """Whether the row has anything in the layout's columns (column A's number alone is nothing)."""
    used = [layout.question, *layout.answers.values(), layout.time_limit, layout.correct, layout.points]
    return any(_text(row.get(c)) != "" for c in used if c is not None)


def _read_row(row: Row, layout: Layout, index: int, problems: list[ImportProblem]) -> dict[str, Any] | None:
    """Question number ``index``, or None when the row has problems (added to ``problems``)."""
    path = f"questions[{index}]"
    found: list[ImportProblem] = []

    def problem(
        column: int | None, message: str, name: str, code: str, params: dict[str, str | int] | None = None
    ) -> None:
        found.append(
            ImportProblem(message, f"{path}.{name}", row.number, layout.letter(column), code, params or {})
        )

    text = _text(row.get(layout.question)) if layout.question is not None else ""
    if not text:
        problem(
            layout.question,
            "The question is empty: write the question in this cell",
            "text",
            "cell_question_empty",
        )
    answers: list[str] = []
    gap: int | None = None
    for number in sorted(layout.answers):
        answer = _text(row.get(layout.answers[number]))
        if answer and gap is not None:
            problem(
                layout.answers[gap],
                f"Answer {gap} is empty but Answer {number} is filled: fill the answers from Answer 1 on",
                f"choices[{gap - 1}]",
                "cell_answer_gap",
                {"empty": gap, "filled": number},
            )
            gap = None
        if answer:
            answers.append(answer)
        elif gap is None:
            gap = number
    if len(answers) < 2:
        problem(
            layout.answers.get(1),
            "A question needs at least two answers (Answer 1 and Answer 2)",
            "choices",
            "cell_answers_too_few",
        )
    time_limit = _time_limit(row, layout, problem)
    correct = _correct(row, layout, len(answers), problem)
    points = _points(row, layout, problem)
    problems.extend(found)
    if found:
        return None
    question: dict[str, Any] = {"text": text}
    if len(correct) == 1 and len(answers) == 2 and [a.lower() for a in answers] == ["true", "false"]:
        question.update(type="true_false", correct=correct[0] == 1)
    else:
        question.update(
            type="choice" if len(correct) == 1 else "multi",
            choices=answers,
            correct=[n - 1 for n in correct],
        )
    question["time_limit_s"] = time_limit
    if points is not None:
        question["points"] = points
    return question


def _time_limit(row: Row, layout: Layout, problem: Any) -> int:
    if layout.time_limit is None:
        return DEFAULT_TIME_LIMIT_S
    value = row.get(layout.time_limit)
    if _text(value) == "":
        return DEFAULT_TIME_LIMIT_S
    seconds = _whole_number(value)
    if seconds is None or not MIN_TIME_LIMIT_S <= seconds <= MAX_TIME_LIMIT_S:
        problem(
            layout.time_limit,
            f"The time limit must be a number of seconds from {MIN_TIME_LIMIT_S} to {MAX_TIME_LIMIT_S} "
            f"(Kahoot's are {', '.join(map(str, KAHOOT_TIME_LIMITS))}), not {_text(value)[:40]!r}",
            "time_limit_s",
            "cell_time_limit",
            {"min": MIN_TIME_LIMIT_S, "max": MAX_TIME_LIMIT_S, "value": _text(value)[:40]},
        )
        return DEFAULT_TIME_LIMIT_S
    return seconds


def _correct(row: Row, layout: Layout, answers: int, problem: Any) -> list[int]:
    value = row.get(layout.correct) if layout.correct is not None else None
    text = _text(value)
    if text == "":
        problem(
            layout.correct,
            "Say which answer is right: its number, like 1, or 1,3 for several",
            "correct",
            "cell_correct_missing",
        )
        return []
    parts = [p for p in re.split(r"[,;/\s]+", text) if p]
    numbers = [_whole_number(p) for p in parts]
    if any(n is None for n in numbers) or not numbers:
        problem(
            layout.correct,
            f"The right answers must be answer numbers separated by commas, like 1 or 1,3, not {text[:40]!r}",
            "correct",
            "cell_correct_not_numbers",
            {"value": text[:40]},
        )
        return []
    chosen = sorted({n for n in numbers if n is not None})
    wrong = [n for n in chosen if not 1 <= n <= max(answers, 1)]
    if wrong:
        problem(
            layout.correct,
            f"There is no answer {', '.join(map(str, wrong))}: this row has {answers} answer"
            f"{'s' if answers != 1 else ''}",
            "correct",
            "cell_correct_no_such_answer",
            {"numbers": ", ".join(map(str, wrong)), "answers": answers},
        )
        return []
    return chosen


def _points(row: Row, layout: Layout, problem: Any) -> str | None:
    if layout.points is None:
        return None
    text = _text(row.get(layout.points)).lower()
    if text == "":
        return None
    if text not in POINTS:
        problem(
            layout.points,
            f"Points must be standard, double or none, not {text[:40]!r}",
            "points",
            "cell_points",
            {"value": text[:40]},
        )
        return None
    return text


def _whole_number(value: Cell | str) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    text = str(value).strip()
    if re.fullmatch(r"\d{1,6}(\.0+)?", text):
        return int(float(text))
    return None


def _text(value: Cell) -> str:
    """A cell as text: numbers as a person wrote them (20, not 20.0), Excel's TRUE as True."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


# ---------------------------------------------------------------------------- writing


def sheet_rows(document: dict[str, Any]) -> list[list[Cell]]:
    """The quiz in the layout, ready for ``write_xlsx``/``write_csv``; ExportRefused if it does not fit."""
    questions: list[dict[str, Any]] = document["questions"]
    misfits = [
        f"question {i + 1} ({q.get('type', 'choice')})" for i, q in enumerate(questions) if not _fits(q)
    ]
    if misfits:
        raise ExportRefused(
            f"{'; '.join(misfits)}: Kahoot's spreadsheet layout holds only choice, multi and true-or-false "
            "questions. Export the quiz as JSON to keep every question"
        )
    answers_needed = max([4, *(len(q.get("choices", ())) for q in questions)])
    with_points = any(q.get("points", "standard") != "standard" for q in questions)
    header: list[Cell] = [
        None,
        QUESTION_HEADER,
        *(answer_header(n) for n in range(1, 5)),
        TIME_HEADER,
        CORRECT_HEADER,
    ]
    header += [answer_header(n) for n in range(5, answers_needed + 1)]
    if with_points:
        header.append(POINTS_HEADER)
    rows = _top_rows(document.get("title", ""), document.get("description", ""))
    rows.append(header)
    for number, q in enumerate(questions, start=1):
        answers, right = _answers(q)
        cells: list[Cell] = [number, q["text"], *_padded(answers[:4], 4), q.get("time_limit_s", 20)]
        cells.append(right[0] if len(right) == 1 else ",".join(map(str, right)))
        cells += _padded(answers[4:], answers_needed - 4)
        if with_points:
            cells.append(q.get("points", "standard"))
        rows.append(cells)
    return rows


def template_rows() -> list[list[Cell]]:
    """The template a teacher fills: the layout with two example questions."""
    example = {
        "title": "My quiz",
        "questions": [
            {
                "type": "choice",
                "text": "What is the capital of France?",
                "choices": ["Lyon", "Paris", "Nice", "Lille"],
                "correct": [1],
                "time_limit_s": 20,
            },
            {
                "type": "multi",
                "text": "Which of these are mammals?",
                "choices": ["Dolphin", "Shark", "Bat", "Penguin"],
                "correct": [0, 2],
                "time_limit_s": 30,
            },
            {"type": "true_false", "text": "The Sun is a star.", "correct": True, "time_limit_s": 10},
        ],
    }
    return sheet_rows(example)


COLUMN_WIDTHS = (4, 50, 22, 22, 22, 22, 16, 16, 22, 22, 16)


def _top_rows(title: str, description: str) -> list[list[Cell]]:
    """Rows 1–7: the title, the description and how to fill the sheet (Kahoot reads from row 9)."""
    rows: list[list[Cell]] = [["Title", title], ["Description", description], []]
    rows += [[None, line] for line in INSTRUCTIONS]
    while len(rows) < HEADER_ROW - 1:
        rows.append([])
    return rows


def _fits(q: dict[str, Any]) -> bool:
    return q.get("type", "choice") in SHEET_TYPES and len(q.get("choices", ())) <= MAX_ANSWERS


def _answers(q: dict[str, Any]) -> tuple[list[str], list[int]]:
    if q.get("type") == "true_false":
        return list(TRUE_FALSE), [1 if q["correct"] else 2]
    return list(q["choices"]), [i + 1 for i in q["correct"]]


def _padded(values: Sequence[str], size: int) -> list[Cell]:
    return [*values, *([None] * (size - len(values)))]
