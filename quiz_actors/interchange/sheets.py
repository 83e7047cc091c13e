"""The cells of a spreadsheet file (.xlsx or .csv), read within limits and written safely.

A spreadsheet comes from anyone, so reading one refuses, with the cell named:

* formulas: a quiz is text and numbers, and a formula's value is whatever the
  program that saved it last computed (or nothing at all);
* more than MAX_ROWS non-empty rows: a quiz has at most 100 questions, and a file of
  10,000 rows is a mistake or an attack, not a quiz;
* an .xlsx that is not a zip of the usual size: an .xlsx is a zip of XML, and a
  few megabytes of zip can inflate to gigabytes. The XML is parsed by openpyxl
  with defusedxml, which refuses entity tricks.

Written cells are always text or numbers: text that starts like a formula
(``=``, ``+``, ``-``, ``@``) is written as text in .xlsx, and behind a ``'`` in
.csv, the mark spreadsheet programs read as "this is text"; reading a .csv
takes the mark off again.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time

from quiz_actors.interchange.problems import ImportProblem, ImportRefused

MAX_FILE_BYTES = 5 * 1024 * 1024
MAX_ROWS = 1000  # non-empty rows read; a quiz is at most 100 questions
MAX_COLUMNS = 26  # A to Z: the layout uses 8
MAX_UNZIPPED_BYTES = 64 * 1024 * 1024
MAX_ZIP_ENTRIES = 1000
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
TEXT_MARK = "'"

Cell = str | int | float | bool | None


@dataclass(frozen=True)
class Row:
    number: int  # 1-based, as the spreadsheet shows it
    cells: tuple[Cell, ...]  # column A first

    def get(self, index: int) -> Cell:
        return self.cells[index] if index < len(self.cells) else None


def column_letter(index: int) -> str:
    """0 → A, 25 → Z, 26 → AA."""
    letters = ""
    number = index + 1
    while number:
        number, rest = divmod(number - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


def read_xlsx(data: bytes) -> list[Row]:
    """The first sheet's non-empty rows."""
    # openpyxl is imported when a spreadsheet comes: about a fifth of the server's start-up otherwise.
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    _check_zip(data)
    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=False, keep_links=False)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, ValueError, OSError) as e:
        raise ImportRefused(
            [
                ImportProblem(
                    f"This .xlsx file cannot be read ({_reason(e)}); save it again", code="xlsx_unreadable"
                )
            ]
        ) from None
    except Exception as e:  # noqa: BLE001 - openpyxl raises many kinds on damaged XML
        raise ImportRefused(
            [ImportProblem(f"This .xlsx file is damaged ({_reason(e)}); save it again", code="xlsx_damaged")]
        ) from None
    try:
        if not book.worksheets:
            raise ImportRefused([ImportProblem("This .xlsx file has no sheet", code="xlsx_no_sheet")])
        sheet = book.worksheets[0]
        rows: list[Row] = []
        formulas: list[ImportProblem] = []
        for number, cells in enumerate(sheet.iter_rows(max_col=MAX_COLUMNS), start=1):
            values: list[Cell] = []
            for index, cell in enumerate(cells):
                if getattr(cell, "data_type", None) == "f":
                    formulas.append(
                        ImportProblem(
                            "This cell holds a formula: type the text or number itself "
                            "(copy the cells and paste them as values)",
                            row=number,
                            column=column_letter(index),
                            code="xlsx_formula",
                        )
                    )
                    values.append(None)
                else:
                    values.append(_plain(getattr(cell, "value", None)))
            if any(v not in (None, "") for v in values):
                rows.append(Row(number, tuple(values)))
                if len(rows) > MAX_ROWS:
                    raise ImportRefused([_too_many_rows()])
    except ImportRefused:
        raise
    except Exception as e:  # noqa: BLE001 - a damaged sheet fails while it is read
        raise ImportRefused(
            [ImportProblem(f"This .xlsx file is damaged ({_reason(e)}); save it again", code="xlsx_damaged")]
        ) from None
    finally:
        book.close()
    if formulas:
        raise ImportRefused(formulas)
    return rows


def read_csv(data: bytes) -> list[Row]:
    """The non-empty rows of a UTF-8 .csv (comma, semicolon or tab separated)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ImportRefused(
            [
                ImportProblem(
                    'This .csv file is not UTF-8 text: save it as "CSV UTF-8" and import it again',
                    code="csv_not_utf8",
                )
            ]
        ) from None
    if "\x00" in text:
        raise ImportRefused(
            [ImportProblem("This is not a .csv file (it holds binary data)", code="csv_binary")]
        )
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text))
    rows: list[Row] = []
    formulas: list[ImportProblem] = []
    try:
        for number, cells in enumerate(reader, start=1):
            values: list[Cell] = []
            for index, raw in enumerate(cells[:MAX_COLUMNS]):
                if raw.startswith("="):
                    formulas.append(
                        ImportProblem(
                            "This cell holds a formula: type the text or number itself "
                            "(or put a ' in front to keep it as text)",
                            row=number,
                            column=column_letter(index),
                            code="csv_formula",
                        )
                    )
                    values.append(None)
                else:
                    values.append(_unmark(raw))
            if any(v not in (None, "") for v in values):
                rows.append(Row(number, tuple(values)))
                if len(rows) > MAX_ROWS:
                    raise ImportRefused([_too_many_rows()])
    except csv.Error as e:
        raise ImportRefused(
            [
                ImportProblem(
                    f"This .csv file cannot be read ({_reason(e)})",
                    row=reader.line_num,
                    code="csv_unreadable",
                )
            ]
        ) from None
    if formulas:
        raise ImportRefused(formulas)
    return rows


def write_xlsx(rows: Iterable[Sequence[Cell]], widths: Sequence[int] = ()) -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    assert sheet is not None  # a new workbook has one sheet
    sheet.title = "Quiz"
    for number, cells in enumerate(rows, start=1):
        for index, value in enumerate(cells):
            if value is None or value == "":
                continue
            cell = sheet.cell(row=number, column=index + 1, value=value)
            if isinstance(value, str):
                cell.data_type = "s"  # never a formula, whatever the text starts with
    for index, width in enumerate(widths):
        sheet.column_dimensions[column_letter(index)].width = width
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def write_csv(rows: Iterable[Sequence[Cell]]) -> bytes:
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    for cells in rows:
        writer.writerow(["" if v is None else _mark(v) for v in cells])
    # With a byte-order mark: Excel then reads the file as UTF-8.
    return out.getvalue().encode("utf-8-sig")


def _plain(value: object) -> Cell:
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    return str(value)


def _mark(value: str | int | float | bool) -> str:
    text = str(value)
    if isinstance(value, str) and (text.startswith(FORMULA_STARTS) or text.startswith(TEXT_MARK)):
        return TEXT_MARK + text
    return text


def _unmark(text: str) -> str:
    """A cell written as ``'=text`` is the text ``=text``."""
    return text[1:] if text.startswith(TEXT_MARK) and len(text) > 1 else text


def _delimiter(text: str) -> str:
    """Excel writes ``;`` where the comma is the decimal sign; the first lines tell which."""
    head = "\n".join(text.splitlines()[:20])
    counts = {d: head.count(d) for d in (",", ";", "\t")}
    return max(counts, key=lambda d: (counts[d], d == ","))


def _check_zip(data: bytes) -> None:
    try:
        entries = zipfile.ZipFile(io.BytesIO(data)).infolist()
    except (zipfile.BadZipFile, ValueError, OSError):
        raise ImportRefused(
            [
                ImportProblem(
                    "This is not an .xlsx file: save the spreadsheet as Excel Workbook (.xlsx)",
                    code="xlsx_not_zip",
                )
            ]
        ) from None
    if len(entries) > MAX_ZIP_ENTRIES or sum(e.file_size for e in entries) > MAX_UNZIPPED_BYTES:
        raise ImportRefused(
            [
                ImportProblem(
                    "This .xlsx file unpacks to far more than a quiz needs; it is refused",
                    code="xlsx_unpacks_too_big",
                )
            ]
        )


def _too_many_rows() -> ImportProblem:
    return ImportProblem(
        f"The sheet has more than {MAX_ROWS:,} rows; a quiz has at most 100 questions. "
        "Split it into several quizzes",
        code="sheet_rows_too_many",
        params={"max": MAX_ROWS},
    )


def _reason(error: BaseException) -> str:
    return (str(error).strip() or type(error).__name__)[:200]
