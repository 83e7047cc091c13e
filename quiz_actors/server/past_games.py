"""Past games on this server, from the audit read model (``quiz_actors/tools/audit_model.py``).

The server keeps one ``AuditLog`` of its own store, opened on first use, and
brings it up to date before each question it answers (only the events stored
since the last one are projected), so a game that has just ended is listed.
Calls block on the store: the HTTP handlers run them in the default executor.
One lock: a catch-up and the queries after it see one position of the log.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from quiz_actors.domain.room import Room

if TYPE_CHECKING:  # imported on first use: the read model's machinery is heavy for a server start
    from quiz_actors.tools.audit_model import AuditLog, AuditRow, RoomRef

MAX_LISTED = 200  # newest games listed at most
# What a game's list entry needs besides its RoomCreated row.
PROGRESS_EVENTS = [
    Room.MemberJoined.__name__,
    Room.QuizStarted.__name__,
    Room.QuizEnded.__name__,
    Room.RoomClosed.__name__,
]


class PastGames:
    def __init__(self, store_url: str):
        self._url = store_url
        self._log: AuditLog | None = None
        self._lock = threading.Lock()

    def _caught_up(self) -> AuditLog:
        if self._log is None:
            from quiz_actors.tools.audit_model import AuditLog

            self._log = AuditLog(self._url)
        self._log.catch_up()
        return self._log

    def listed(self, host_id: str | None) -> list[dict[str, Any]]:
        """The newest games hosted by ``host_id`` (every host's when None), newest first."""
        from quiz_actors.tools.audit_model import EventFilter

        with self._lock:
            log = self._caught_up()
            created = log.events(
                EventFilter(user_id=host_id, types=[Room.RoomCreated.__name__], limit=MAX_LISTED)
            )
            ids = [r.room_id for r in created if r.room_id]
            later = log.events(EventFilter(room_ids=ids, types=PROGRESS_EVENTS, limit=None)) if ids else []
        return [_entry(row, [r for r in later if r.room_id == row.room_id]) for row in created]

    def rooms_with_code(self, code: str) -> list[RoomRef]:
        """Every room that had this code, newest first."""
        with self._lock:
            return self._caught_up().rooms_with_code(code)[::-1]

    def close(self) -> None:
        with self._lock:
            if self._log is not None:
                self._log.close()
                self._log = None


def _entry(created: AuditRow, later: list[AuditRow]) -> dict[str, Any]:
    kinds = {r.event_type: r for r in later}
    ended = kinds.get(Room.QuizEnded.__name__)
    quiz = created.fields.get("quiz") or {}
    return {
        "room_id": created.room_id,
        "code": created.code,
        "title": quiz.get("title", ""),
        "host_name": created.fields.get("host_name") or created.name,
        "created_at_ms": created.at_ms,
        "started": Room.QuizStarted.__name__ in kinds,
        "ended_at_ms": ended.at_ms if ended else None,
        "closed": Room.RoomClosed.__name__ in kinds,
        "players": len({r.user_id for r in later if r.event_type == Room.MemberJoined.__name__}),
    }
