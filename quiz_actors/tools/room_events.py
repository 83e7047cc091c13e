"""What the quiz's stored events mean for the tools: their time, their user, one line of "what happened".

Times are the events' own fields (``at``, ``shown_at``, ``received_at``…: the
server's injected clock), not the library's wall-clock ``timestamp``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from eventstore.audit import Columns
from eventstore.replay import event_fields, event_type
from quiz_actors.domain.directory import RoomDirectory
from quiz_actors.domain.room import Room
from quiz_actors.domain.secret import ServerSecret
from quiz_actors.tools.output import fmt_time

TIME_FIELDS = ("at", "shown_at", "received_at", "created_at", "uploaded_at")
# Events that do not advance a room's seq (docs/protocol.md, "`seq`: staying in step").
NOT_BROADCAST = ("QuizStarted", "AnswerSubmitted")


def time_ms(event: Any) -> int:
    for name in TIME_FIELDS:
        value = getattr(event, name, None)
        if isinstance(value, int):
            return value
    stamp: datetime = event.timestamp
    return int(stamp.timestamp() * 1000)


def user_of(event: Any) -> str | None:
    return getattr(event, "user_id", None) or getattr(event, "host_id", None)


def audit_columns(event: Any) -> Columns:
    """The audit row's room, code, user, name and time for any stored event."""
    at = time_ms(event)
    if isinstance(event, Room.Event):
        return Columns(
            room_id=str(event.originator_id),
            code=getattr(event, "code", None),
            user_id=user_of(event),
            name=getattr(event, "name", None) or getattr(event, "host_name", None),
            at_ms=at,
        )
    if isinstance(event, RoomDirectory.Event):
        return Columns(room_id=getattr(event, "room_id", None), code=getattr(event, "code", None), at_ms=at)
    if isinstance(event, ServerSecret.Event):
        # The token-signing key stays where it is: the audit log only says it was made.
        return Columns(at_ms=at, fields={k: "(withheld)" for k in event_fields(event)})
    return Columns(at_ms=at)


def question_label(index: int) -> str:
    return f"Q{index}"


def summary(event: Any, room: Room, names: dict[str, str]) -> str:
    """One line on what an event did; ``room`` is the room right after it."""
    kind, f = event_type(event), event_fields(event)

    def name(user_id: str) -> str:
        return names.get(user_id, user_id[:8])

    if kind == "RoomCreated":
        return (
            f'room {f["code"]} opened for "{f["quiz"]["title"]}" '
            f"({len(f['quiz']['questions'])} questions), host {f['host_name']}"
        )
    if kind == "MemberJoined":
        return f"joined as {f['name']}"
    if kind == "MemberLeft":
        return "left"
    if kind == "MemberOffline":
        return f"went offline ({f['reason']})"
    if kind == "MemberOnline":
        return "came back online"
    if kind == "MemberKicked":
        return "was kicked by the host"
    if kind == "RoomLocked":
        return f"room locked ({f['reason']})"
    if kind == "RoomUnlocked":
        return "room unlocked"
    if kind == "QuizStarted":
        return "quiz started"
    if kind == "QuestionShown":
        q = room.question(f["index"])
        return (
            f'{question_label(f["index"])} shown: "{q["text"]}" ({q["time_limit_s"]} s, '
            f"{q['points']}), deadline {fmt_time(f['deadline_at'])[11:]}"
        )
    if kind == "AnswerSubmitted":
        q = room.question(f["question"])
        verdict = "right" if f["correct"] else "wrong"
        choice = f'{f["choice"]} "{q["choices"][f["choice"]]}"'
        return (
            f"{question_label(f['question'])}: choice {choice} {verdict}, {f['points']} points, "
            f"streak {f['streak']}, after {f['elapsed_ms'] / 1000:.3f} s"
        )
    if kind == "QuestionClosed":
        result = room.last_result
        scores = ", ".join(f"{name(u)} +{r['points']}={r['score']}" for u, r in result["results"].items())
        return (
            f"{question_label(f['index'])} closed ({f['reason']}): correct {result['correct']}, "
            f"answers {result['distribution']}; {scores or 'no players'}"
        )
    if kind == "QuizEnded":
        ranks = ", ".join(f"{r['rank']}. {r['name']} {r['score']}" for r in room.ranking())
        return f"quiz ended ({f['reason']}); {ranks or 'no players'}"
    if kind == "RoomClosed":
        return f"room closed ({f['reason']})"
    return ", ".join(f"{k}={v}" for k, v in f.items())
