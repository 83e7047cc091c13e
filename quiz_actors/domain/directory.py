"""The RoomDirectory aggregate: which room holds which 6-digit code.

A code is unique among rooms that are not closed; once its room closes the code
is free for a new room. The directory's events keep every assignment, so a code
that served several rooms over time can still be traced to each of them.
"""

from __future__ import annotations

import uuid

from eventsourcing.domain import Aggregate, event

DIRECTORY_ID = uuid.uuid5(uuid.NAMESPACE_URL, "quiz-actors:room-directory")


class RoomDirectory(Aggregate):
    """Each event is a class with a pinned ``TOPIC``: the name stored with it, which never changes."""

    @staticmethod
    def create_id() -> uuid.UUID:
        return DIRECTORY_ID

    class DirectoryOpened(Aggregate.Created):
        TOPIC = "quiz_actors.domain.directory:RoomDirectory.DirectoryOpened"

    @event(DirectoryOpened)
    def __init__(self) -> None:
        self.open_rooms: dict[str, str] = {}  # code -> room id

    def room_for(self, code: str) -> str | None:
        return self.open_rooms.get(code)

    class CodeAssigned(Aggregate.Event):
        TOPIC = "quiz_actors.domain.directory:RoomDirectory.CodeAssigned"
        code: str
        room_id: str
        at: int

    @event(CodeAssigned)
    def assign(self, code: str, room_id: str, at: int) -> None:
        self.open_rooms[code] = room_id

    def release(self, code: str, room_id: str, at: int) -> bool:
        # Only the room that holds a code may release it.
        if self.open_rooms.get(code) != room_id:
            return False
        self._code_released(code=code, room_id=room_id, at=at)
        return True

    class CodeReleased(Aggregate.Event):
        TOPIC = "quiz_actors.domain.directory:RoomDirectory.CodeReleased"
        code: str
        room_id: str
        at: int

    @event(CodeReleased)
    def _code_released(self, code: str, room_id: str, at: int) -> None:
        del self.open_rooms[code]
