"""A problem placed in a file: what imports and uploads report in an error reply.

``http_json.error_reply`` writes it like a quiz document's problem: ``path``
and ``message``, plus the ``row`` and ``column`` of the spreadsheet cell when
there is one (docs/api.md, "Errors").
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Problem:
    message: str
    path: str = ""
    row: int | None = None
    column: str | None = None
    code: str = ""  # docs/api.md, "Problem codes": absent from the reply when empty
    params: dict[str, str | int] = field(default_factory=dict)

    def as_json(self) -> dict[str, object]:
        out: dict[str, object] = {"path": self.path, "message": self.message}
        if self.row is not None:
            out["row"] = self.row
        if self.column is not None:
            out["column"] = self.column
        if self.code:
            out["code"] = self.code
            out["params"] = dict(self.params)
        return out

    @property
    def detail(self) -> str:
        """One line for ``details``: where, then what."""
        where = []
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column is not None:
            where.append(f"column {self.column}")
        if not where and self.path:
            where.append(self.path)
        return f"{', '.join(where)}: {self.message}" if where else self.message
