"""Error replies of the HTTP API, in one shape (docs/api.md, "Errors").

``details`` (one string per problem) is what clients of the first release read;
``problems`` says the same as objects a page can place next to a field or a
spreadsheet cell: ``path`` into the quiz document, ``message`` in plain words,
and for imports the ``row`` and ``column`` of the file.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from aiohttp import web


@dataclass(frozen=True)
class Problem:
    message: str
    path: str = ""
    row: int | None = None
    column: str | None = None

    def as_json(self) -> dict[str, object]:
        out: dict[str, object] = {"path": self.path, "message": self.message}
        if self.row is not None:
            out["row"] = self.row
        if self.column is not None:
            out["column"] = self.column
        return out

    def as_detail(self) -> str:
        """One line for ``details``: where, then what."""
        where = []
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column is not None:
            where.append(f"column {self.column}")
        if not where and self.path:
            where.append(self.path)
        return f"{', '.join(where)}: {self.message}" if where else self.message


def error_reply(
    status: int,
    code: str,
    message: str,
    problems: Sequence[Problem] = (),
    headers: dict[str, str] | None = None,
) -> web.Response:
    body = {
        "error": {
            "code": code,
            "message": message,
            "details": [p.as_detail() for p in problems],
            "problems": [p.as_json() for p in problems],
        }
    }
    return web.json_response(body, status=status, headers=headers)
