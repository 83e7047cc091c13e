"""Every answer of a room judged and scored again from its events, for ``quiz-replay --check``.

The rule check stops at the first event that breaks a rule; this goes on to the
end, so that every answer whose recorded verdict, points or streak the room's
own rule (``Room.mark_answer``: the question type's judging, then the scoring
rule) would not give is named. Each answer is re-scored against the room as its
events left it just before.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from eventstore.replay import event_fields
from quiz_actors.domain.questions import AnswerRefused, read_answer
from quiz_actors.domain.room import Room
from quiz_actors.tools.room_events import answer_words, question_label


@dataclass(frozen=True)
class Rescored:
    version: int
    question: int
    user_id: str
    name: str
    answer: str  # the answer in words
    recorded: str  # "right, 975 points, streak 2"
    expected: str  # what the rules give, in the same words

    @property
    def adds_up(self) -> bool:
        return self.recorded == self.expected

    def as_json(self) -> dict[str, Any]:
        return {**self.__dict__, "adds_up": self.adds_up}

    def line(self) -> str:
        return (
            f"v{self.version} {question_label(self.question)} {self.name} ({self.user_id[:8]}): "
            f"{self.answer}: recorded {self.recorded}; the rules give {self.expected}"
        )


def rescore(events: Iterable[Any]) -> list[Rescored]:
    """One entry per answer event, in order; stops where an event no longer applies."""
    room: Room | None = None
    out = []
    for event in events:
        if isinstance(event, Room.AnswerSubmitted) and room is not None and room.current is not None:
            out.append(_rescore(room, event))
        try:
            room = event.mutate(room)
        except Exception:  # noqa: BLE001 - the rule check reports a replay failure itself
            break
    return out


def _rescore(room: Room, event: Any) -> Rescored:
    f = event_fields(event)
    q = room.question(f["question"])
    member = room.members.get(f["user_id"])
    recorded = f"{f['verdict']}, {f['points']} points, streak {f['streak']}"
    if member is None:
        expected = "no answer: not a member"
    else:
        try:
            payload = read_answer(q, f["answer"])
        except AnswerRefused as refused:
            expected = f"a refusal ({refused.message})"
        else:
            mark = room.mark_answer(f["user_id"], payload, f["received_at"])
            expected = f"{mark.verdict}, {mark.points} points, streak {mark.streak}"
    return Rescored(
        version=event.originator_version,
        question=f["question"],
        user_id=f["user_id"],
        name=member["name"] if member else f["user_id"][:8],
        answer=answer_words(q, f["answer"]),
        recorded=recorded,
        expected=expected,
    )
