"""Decisions a room has made but not yet stored, and what to send once they are.

Answers and joins are group-committed. The room decides each at once (the
aggregate checks the rules and applies the events), notes here who is waiting
and what the room must hear, and sends itself one ``SaveDecided``; by the time
that message arrives, every answer and join queued behind the first has been
decided too, and one commit stores them all (or sooner, a bounded number at a
time: ``room/saving.py``; with nothing queued behind the first, at the end of
its own message). Only after that commit does
anyone hear of them; if it fails, everyone waiting here hears ``busy``.

Refusals are not held back: a join refused because an earlier join of the
same batch took the name, filled the room or locked it against a flood is
refused at once. If the commit then fails, that refusal stands although the
decision behind it was thrown away; the client may simply try again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from quiz_actors.actors.messages import Sender


@dataclass
class Broadcast:
    """A message for every member but ``but``. ``members``: it is a membership change,
    and the room's member count after it; it may travel with later ones, and be summed
    up for the players who asked for summaries (``Audience.broadcast``)."""

    message: dict[str, Any]
    but: str | None = None
    members: int | None = None


@dataclass
class Unsaved:
    answers: list[tuple[Sender, Any, int]] = field(default_factory=list)  # (sender, ref, question)
    joiners: list[tuple[Sender, Any]] = field(default_factory=list)  # (sender, ref), in order
    broadcasts: list[Broadcast] = field(default_factory=list)  # in the order of their events

    def waiting(self) -> list[tuple[Sender, Any]]:
        """Everyone owed a reply: told ``busy`` if the commit fails."""
        return [(sender, ref) for sender, ref, _ in self.answers] + list(self.joiners)

    def __bool__(self) -> bool:
        return bool(self.answers or self.joiners or self.broadcasts)
