"""What the quiz's stored events mean for the tools: their time, their user, one line of "what happened".

Times are the events' own fields (``at``, ``shown_at``, ``received_at``…: the
server's injected clock), not the library's wall-clock ``timestamp``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from eventstore.replay import event_fields
from quiz_actors.domain.room import Room
from quiz_actors.tools.output import fmt_time

TIME_FIELDS = ("at", "shown_at", "received_at", "created_at", "uploaded_at")


def time_ms(event: Any) -> int:
    for name in TIME_FIELDS:
        value = getattr(event, name, None)
        if isinstance(value, int):
            return value
    stamp: datetime = event.timestamp
    return int(stamp.timestamp() * 1000)


def user_of(event: Any) -> str | None:
    return getattr(event, "user_id", None) or getattr(event, "host_id", None)


def question_label(index: int) -> str:
    return f"Q{index}"


Names = dict[str, str]  # user id -> the name they had in the room
Summary = Callable[[dict[str, Any], Room, Names], str]


def _name(names: Names, user_id: str) -> str:
    return names.get(user_id, user_id[:8])


def _room_created(f: dict[str, Any], room: Room, names: Names) -> str:
    return (
        f'room {f["code"]} opened for "{f["quiz"]["title"]}" '
        f"({len(f['quiz']['questions'])} questions), host {f['host_name']}"
    )


def _question_shown(f: dict[str, Any], room: Room, names: Names) -> str:
    q = room.question(f["index"])
    return (
        f'{question_label(f["index"])} shown: "{q["text"]}" ({q["time_limit_s"]} s, '
        f"{q['points']}), deadline {fmt_time(f['deadline_at'])[11:]}"
    )


def _answer_submitted(f: dict[str, Any], room: Room, names: Names) -> str:
    q = room.question(f["question"])
    verdict = "right" if f["correct"] else "wrong"
    choice = f'{f["choice"]} "{q["choices"][f["choice"]]}"'
    return (
        f"{question_label(f['question'])}: choice {choice} {verdict}, {f['points']} points, "
        f"streak {f['streak']}, after {f['elapsed_ms'] / 1000:.3f} s"
    )


def _question_closed(f: dict[str, Any], room: Room, names: Names) -> str:
    result = room.last_result
    assert result is not None  # the room has just closed a question
    scores = ", ".join(f"{_name(names, u)} +{r['points']}={r['score']}" for u, r in result["results"].items())
    return (
        f"{question_label(f['index'])} closed ({f['reason']}): correct {result['correct']}, "
        f"answers {result['distribution']}; {scores or 'no players'}"
    )


def _quiz_ended(f: dict[str, Any], room: Room, names: Names) -> str:
    ranks = ", ".join(f"{r['rank']}. {r['name']} {r['score']}" for r in room.ranking())
    return f"quiz ended ({f['reason']}); {ranks or 'no players'}"


# One line on what each kind of room event did.
SUMMARIES: dict[type[Any], Summary] = {
    Room.RoomCreated: _room_created,
    Room.MemberJoined: lambda f, room, names: f"joined as {f['name']}",
    Room.MemberLeft: lambda f, room, names: "left",
    Room.MemberOffline: lambda f, room, names: f"went offline ({f['reason']})",
    Room.MemberOnline: lambda f, room, names: "came back online",
    Room.MemberKicked: lambda f, room, names: "was kicked by the host",
    Room.RoomLocked: lambda f, room, names: f"room locked ({f['reason']})",
    Room.RoomUnlocked: lambda f, room, names: "room unlocked",
    Room.QuizStarted: lambda f, room, names: "quiz started",
    Room.QuestionShown: _question_shown,
    Room.AnswerSubmitted: _answer_submitted,
    Room.QuestionClosed: _question_closed,
    Room.QuizEnded: _quiz_ended,
    Room.RoomClosed: lambda f, room, names: f"room closed ({f['reason']})",
}


def summary(event: Any, room: Room, names: Names) -> str:
    """One line on what an event did; ``room`` is the room right after it."""
    fields = event_fields(event)
    describe = SUMMARIES.get(type(event))
    if describe is None:
        return ", ".join(f"{k}={v}" for k, v in fields.items())
    return describe(fields, room, names)
