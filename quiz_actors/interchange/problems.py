"""What is wrong with an imported file: each problem in plain words, at its row and column."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class ImportProblem:
    message: str  # plain words, without the place
    path: str = ""  # into the quiz document, when it is about one of its fields
    row: int | None = None  # as the spreadsheet shows it (1 is the first row)
    column: str | None = None  # A, B, …
    # The kind of problem and the numbers and texts its words need, for a page that says it
    # in its own language (docs/api.md, "Problem codes"); a quiz check's problem keeps its own.
    code: str = ""
    params: dict[str, str | int] = field(default_factory=dict)


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


def quiz_problems(error: Exception) -> Iterator[ImportProblem]:
    """Each problem a ``QuizInvalid`` reports, with its code when it has one, whichever way it reports it."""
    structured = getattr(error, "problems", None)
    if isinstance(structured, list):
        for problem in structured:
            yield ImportProblem(
                str(getattr(problem, "message", problem)),
                str(getattr(problem, "path", "")),
                code=str(getattr(problem, "code", "")),
                params=dict(getattr(problem, "params", {})),
            )
        return
    for detail in getattr(error, "details", [str(error)]):
        match = _DETAIL.match(detail)
        if match is None:
            yield ImportProblem(detail)
            continue
        name = match["field"] or match["quoted"]
        path = f"{match['path']}.{name}" if name else match["path"]
        yield ImportProblem((f'"{match["quoted"]}" ' if match["quoted"] else "") + match["message"], path)
