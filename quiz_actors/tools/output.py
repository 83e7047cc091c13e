"""Printing for the tools: times, aligned tables, CSV and JSON lines."""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, TextIO


def fmt_time(ms: int | None) -> str:
    """Milliseconds since the epoch as UTC, to the millisecond."""
    if ms is None:
        return ""
    moment = datetime.fromtimestamp(ms / 1000, tz=UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S.") + f"{ms % 1000:03d}"


def parse_time(text: str) -> int:
    """An ISO 8601 time (``2025-11-24T16:00:00Z``, ``2025-11-24 16:00``) as ms; no zone means UTC."""
    moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def short_id(value: str | None) -> str:
    return value[:8] if value else ""


def who(name: str | None, user_id: str | None) -> str:
    if not user_id:
        return ""
    return f"{name} ({short_id(user_id)})" if name else short_id(user_id)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """Aligned columns; numbers to the right, the last column unpadded."""
    rows = [list(r) for r in rows]
    cells = [[_cell(v) for v in r] for r in rows]
    widths = [len(h) for h in headers]
    for r in cells:
        for i, c in enumerate(r):
            widths[i] = max(widths[i], len(c))
    numeric = [
        bool(rows)
        and all(
            isinstance(r[i], (int, float)) and not isinstance(r[i], bool) for r in rows if r[i] is not None
        )
        for i in range(len(headers))
    ]

    def line(values: Sequence[str]) -> str:
        out = []
        for i, v in enumerate(values):
            last = i == len(values) - 1
            out.append(v.rjust(widths[i]) if numeric[i] else (v if last else v.ljust(widths[i])))
        return "  ".join(out).rstrip()

    return "\n".join([line(list(headers)), line(["-" * w for w in widths]), *(line(r) for r in cells)])


def write_csv(headers: Sequence[str], rows: Iterable[Sequence[Any]], out: TextIO = sys.stdout) -> None:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(headers)
    for r in rows:
        writer.writerow([_csv_cell(v) for v in r])


def _csv_cell(value: Any) -> Any:
    if value is None:
        return ""
    return json.dumps(value, ensure_ascii=False) if isinstance(value, (dict, list)) else value


def json_line(value: Any, out: TextIO = sys.stdout) -> None:
    out.write(json.dumps(value, ensure_ascii=False, default=str) + "\n")


def compact(fields: dict[str, Any], width: int = 80, skip: Sequence[str] = ()) -> str:
    """An event's fields on one line for a table; big values shortened, ``skip`` left out."""
    parts = []
    for k, v in fields.items():
        if k in skip:
            continue
        if isinstance(v, (dict, list)):
            text = json.dumps(v, ensure_ascii=False)
            v = text if len(text) <= 20 else ("{…}" if isinstance(v, dict) else "[…]")
        parts.append(f"{k}={v}")
    line = " ".join(parts)
    return line if len(line) <= width else line[: width - 1] + "…"
