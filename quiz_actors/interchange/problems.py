"""What is wrong with an imported file: each problem in plain words, at its row and column."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class ImportProblem:
    message: str  # plain words, without the place
    path: str = ""  # into the quiz document, when it is about one of its fields
    row: int | None = None  # as the spreadsheet shows it (1 is the first row)
    column: str | None = None  # A, B, …


class ImportRefused(ValueError):
    """Nothing was imported; ``problems`` lists every reason found."""

    def __init__(self, problems: Sequence[ImportProblem]):
        super().__init__("; ".join(p.message for p in problems))
        self.problems = list(problems)


# A problem as the quiz checks word it, before the editor's plain-words problems existed:
# "questions[0].choices[1]: at most 120 characters" (choice questions) or
# 'questions[2] (multi): "correct" lists an index twice' (every other type).
_DETAIL = re.compile(
    r"^(?P<path>title|description|questions(?:\[\d+\])?)"
    r"(?:\.(?P<field>[\w\[\]]+)|\s\(\w+\))?:\s*(?:\"(?P<quoted>[\w\[\]]+)\"\s*)?(?P<message>.*)$",
    re.DOTALL,
)


def quiz_problems(error: Exception) -> Iterator[tuple[str, str]]:
    """``(path, message)`` for each problem a ``QuizInvalid`` reports, whichever way it reports them."""
    structured = getattr(error, "problems", None)
    if isinstance(structured, list):
        for problem in structured:
            yield str(getattr(problem, "path", "")), str(getattr(problem, "message", problem))
        return
    for detail in getattr(error, "details", [str(error)]):
        match = _DETAIL.match(detail)
        if match is None:
            yield "", detail
            continue
        field = match["field"] or match["quoted"]
        path = f"{match['path']}.{field}" if field else match["path"]
        yield path, (f'"{match["quoted"]}" ' if match["quoted"] else "") + match["message"]
