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
from quiz_actors.domain.questions import describe_answer, describe_right, type_of
from quiz_actors.domain.room import Room
from quiz_actors.domain.secret import ServerSecret
from quiz_actors.tools.output import fmt_time

TIME_FIELDS = ("at", "shown_at", "received_at", "created_at", "uploaded_at")
# Events that do not advance a room's seq (PROTOCOL.md, "Room messages carry seq").
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


def answer_payload(fields: dict[str, Any]) -> dict[str, Any]:
    """An answer event's payload. Rows the audit log stored before question types have only ``choice``."""
    answer: dict[str, Any] | None = fields.get("answer")
    return answer if answer is not None else {"choice": fields["choice"]}


def answer_verdict(fields: dict[str, Any]) -> str:
    verdict: str | None = fields.get("verdict")
    return verdict if verdict is not None else ("right" if fields["correct"] else "wrong")


def answer_words(q: dict[str, Any], fields: dict[str, Any]) -> str:
    """``choice 1 "b"`` for a choice question (as before question types), the answer in words otherwise."""
    words = describe_answer(q, answer_payload(fields))
    return f"choice {words}" if type_of(q).name == "choice" else words


VERDICT_WORDS = {"right": "right", "wrong": "wrong", "unjudged": "not judged (a poll)"}


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
        return (
            f"{question_label(f['question'])}{_type_note(q)}: {answer_words(q, f)} "
            f"{VERDICT_WORDS[answer_verdict(f)]}, {f['points']} points, "
            f"streak {f['streak']}, after {f['elapsed_ms'] / 1000:.3f} s"
        )
    if kind == "QuestionClosed":
        result = room.last_result
        q = room.question(f["index"])
        scores = ", ".join(f"{name(u)} +{r['points']}={r['score']}" for u, r in result["results"].items())
        if type_of(q).name == "choice":
            outcome = f"correct {result['correct']}, answers {result['distribution']}"
        else:
            right = describe_right(q)
            outcome = (f"right answer {right}, " if right else "") + f"answers {_closed_answers(result)}"
        return (
            f"{question_label(f['index'])}{_type_note(q)} closed ({f['reason']}): {outcome}; "
            f"{scores or 'no players'}"
        )
    if kind == "QuizEnded":
        ranks = ", ".join(f"{r['rank']}. {r['name']} {r['score']}" for r in room.ranking())
        return f"quiz ended ({f['reason']}); {ranks or 'no players'}"
    if kind == "RoomClosed":
        return f"room closed ({f['reason']})"
    return ", ".join(f"{k}={v}" for k, v in f.items())


def _type_note(q: dict[str, Any]) -> str:
    name = type_of(q).name
    return "" if name == "choice" else f" ({name})"


def _closed_answers(result: dict[str, Any]) -> str:
    if "answers" in result:  # a slider: where the answers fell
        return ", ".join(f"{a['value']}×{a['count']}" for a in result["answers"]) or "none"
    if "wrong_answers" in result:  # a typed answer
        wrong = ", ".join(f"{w['text']!r}×{w['count']}" for w in result["wrong_answers"])
        return f"{result['right_count']} right" + (f", wrong {wrong}" if wrong else "")
    return str(result["distribution"])
