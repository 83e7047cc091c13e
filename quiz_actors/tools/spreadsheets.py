"""A game report as files a teacher opens in a spreadsheet: CSV (every answer) and XLSX
(ranking, questions, every answer).

Names, answers and quiz text come from players and quiz authors, so no cell may
become a formula: a player called ``=HYPERLINK("http://evil","click")`` must
read as that text. In the XLSX every text cell is stored as a string (never a
formula); in the CSV, which has no cell types, a text that a spreadsheet would
start evaluating (``= + - @``, tab, carriage return) is prefixed with ``'``,
as OWASP recommends. Numbers stay numbers.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # openpyxl is imported when a workbook is made, not when the server starts
    from openpyxl import Workbook

ANSWER_COLUMNS = (
    "rank",
    "player",
    "score",
    "question",
    "question text",
    "type",
    "answer",
    "result",
    "points",
    "time s",
)
RANKING_COLUMNS = ("rank", "player", "score", "answered", "right")
QUESTION_COLUMNS = (
    "question",
    "question text",
    "type",
    "right answer",
    "players",
    "answered",
    "right",
    "wrong",
    "no answer",
    "accuracy %",
    "average time s",
    "answers given",
)

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"-?\d+(\.\d+)?")  # "-5" (a slider answer) is a number, not a formula
MAX_SHEET_COLUMN_WIDTH = 60


def defused(text: str) -> str:
    """``text`` as a CSV cell no spreadsheet evaluates."""
    if text.startswith(FORMULA_START) and not _PLAIN_NUMBER.fullmatch(text):
        return "'" + text
    return text


def _seconds(ms: int | None) -> float | None:
    return None if ms is None else round(ms / 1000, 3)


def answer_rows(report: dict[str, Any]) -> list[list[Any]]:
    """One row per player per question asked, players in rank order (those who left last)."""
    kinds = {q["index"]: q["question_type"] for q in report["questions"]}
    return [
        [
            p["rank"],
            p["name"],
            p["score"],
            a["number"],
            a["text"],
            kinds[a["question"]],
            a["answer"],
            a["result_words"],
            a["points"],
            _seconds(a["elapsed_ms"]),
        ]
        for p in report["players"]
        for a in p["answers"]
    ]


def ranking_rows(report: dict[str, Any]) -> list[list[Any]]:
    return [[r["rank"], r["name"], r["score"], r["answered"], r["right"]] for r in report["ranking"]]


def question_rows(report: dict[str, Any]) -> list[list[Any]]:
    return [
        [
            q["number"],
            q["text"],
            q["question_type"],
            q["right_answer"],
            q["players"],
            q["answered"],
            q["right"],
            q["wrong"],
            q["no_answer"],
            None if q["accuracy"] is None else round(100 * q["accuracy"], 1),
            _seconds(q["average_ms"]),
            "; ".join(f"{a['answer']} ×{a['count']}" for a in q["answers"]),
        ]
        for q in report["questions"]
    ]


def report_csv(report: dict[str, Any]) -> str:
    """Every answer (``ANSWER_COLUMNS``), with a header row."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(ANSWER_COLUMNS)
    for row in answer_rows(report):
        writer.writerow(["" if v is None else defused(v) if isinstance(v, str) else v for v in row])
    return out.getvalue()


def report_xlsx(report: dict[str, Any]) -> bytes:
    """Three sheets: Ranking, Questions, Answers (the CSV's rows).

    Written in openpyxl's write-only mode: rows are streamed out as they are
    appended, not kept as a cell object each (a 2,000-player game has 20,000 rows).
    """
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheets = (
        ("Ranking", RANKING_COLUMNS, ranking_rows(report)),
        ("Questions", QUESTION_COLUMNS, question_rows(report)),
        ("Answers", ANSWER_COLUMNS, answer_rows(report)),
    )
    for title, columns, rows in sheets:
        _sheet(book, title, columns, rows)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _sheet(book: Workbook, title: str, columns: Sequence[str], rows: list[list[Any]]) -> None:
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    sheet = book.create_sheet(title)
    widths = [len(c) for c in columns]
    for row in rows:
        for c, value in enumerate(row):
            widths[c] = max(widths[c], len(str(value)) if value is not None else 0)
    for c, width in enumerate(widths, start=1):  # before the first row: write-only sheets need it so
        sheet.column_dimensions[get_column_letter(c)].width = min(MAX_SHEET_COLUMN_WIDTH, width + 2)
    sheet.freeze_panes = "A2"
    header = []
    for name in columns:
        cell = WriteOnlyCell(sheet, value=name)
        cell.font = Font(bold=True)
        header.append(cell)
    sheet.append(header)
    for row in rows:
        sheet.append([_text_cell(sheet, v) if isinstance(v, str) else v for v in row])


def _text_cell(sheet: Any, text: str) -> Any:
    from openpyxl.cell import WriteOnlyCell

    # A str that starts with "=" would be written as a formula: say it is a string,
    # so it is stored as text whatever it holds.
    cell = WriteOnlyCell(sheet, value=text)
    cell.data_type = "s"
    return cell
