"""Finding a room by its code or id, for the tools.

A code is unique only among open rooms, so over time one code can have served
several rooms. ``choose`` takes the most recent unless told which (``nth``,
counted from 1 = the oldest), and says so when a code was reused.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from eventstore import EventStore
from eventstore.persistence import redact
from quiz_actors.domain.directory import DIRECTORY_ID, RoomDirectory
from quiz_actors.tools.output import fmt_time


class ToolError(Exception):
    """A problem to report in one line, with exit status 2."""


@dataclass(frozen=True)
class Candidate:
    room_id: str
    code: str
    at_ms: int


@dataclass(frozen=True)
class Choice:
    room_id: str
    code: str | None
    note: str | None  # said on stderr: the code was reused


def as_uuid(text: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(text)
    except ValueError:
        return None


def check_store_exists(url: str) -> None:
    """Refuse to read a SQLite file that is not there (opening it would create an empty store)."""
    parts = urlsplit(url)
    if parts.scheme.lower() != "sqlite":
        return
    path = unquote(parts.path[1:])
    if path and path != ":memory:" and not os.path.exists(path):
        raise ToolError(f"no event store at {redact(url)} ({os.path.abspath(path)} does not exist)")


def rooms_with_code_in_directory(store: EventStore, code: str) -> list[Candidate]:
    """Every room that was given ``code``, oldest first, from the room directory's events."""
    found = []
    for event in store.stored_events(DIRECTORY_ID):
        if isinstance(event, RoomDirectory.CodeAssigned) and event.code == code:
            found.append(Candidate(event.room_id, event.code, event.at))
    return found


def choose(
    ident: str | None, room_id: str | None, nth: int | None, candidates_for: Callable[[str], list[Candidate]]
) -> Choice:
    """Resolve ``ident`` (a code or a room id) or ``room_id``; ``candidates_for`` lists a code's rooms."""
    given_id = room_id if room_id is not None else ident
    if given_id is not None and (room_id is not None or as_uuid(given_id) is not None):
        parsed = as_uuid(given_id)
        if parsed is None:
            raise ToolError(f"{given_id!r} is not a room id")
        return Choice(str(parsed), None, None)
    if ident is None:
        raise ToolError("name a room: its 6-digit code or its id (or --room-id)")
    candidates = candidates_for(ident)
    if not candidates:
        raise ToolError(f"no room has ever had code {ident}")
    if nth is not None and not 1 <= nth <= len(candidates):
        count = len(candidates)
        raise ToolError(f"code {ident} was used by {count} room(s): --nth must be 1 to {count}")
    index = (nth or len(candidates)) - 1
    note = None
    if len(candidates) > 1:
        lines = [f"code {ident} was used by {len(candidates)} rooms:"]
        for i, c in enumerate(candidates):
            mark = "  <- this one" if i == index else ""
            lines.append(f"  #{i + 1}  {c.room_id}  opened {fmt_time(c.at_ms)} UTC{mark}")
        which = "the most recent" if nth is None else f"#{nth}"
        lines.append(f"showing {which}; choose another with --nth N or --room-id ID")
        note = "\n".join(lines)
    candidate = candidates[index]
    return Choice(candidate.room_id, candidate.code, note)
