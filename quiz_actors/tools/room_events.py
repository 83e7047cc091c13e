"""What the quiz's stored events mean for the tools: their time, their user, one line of "what happened".

Times are the events' own fields (``at``, ``shown_at``, ``received_at``…: the
server's injected clock), not the library's wall-clock ``timestamp``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from eventstore.replay import event_fields
from quiz_actors.domain.questions import describe_answer, describe_right, type_of
from quiz_actors.domain.room import Room
from quiz_actors.tools.output import fmt_time

TIME_FIELDS = ("at", "shown_at", "received_at", "created_at", "revised_at", "archived_at", "updated_at")


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


def answer_words(q: dict[str, Any], payload: dict[str, Any]) -> str:
    """``choice 1 "b"`` for a choice question (as before question types), the answer in words otherwise."""
    words = describe_answer(q, payload)
    return f"choice {words}" if type_of(q).name == "choice" else words


VERDICT_WORDS = {"right": "right", "wrong": "wrong", "unjudged": "not judged (a poll)"}


def _type_note(q: dict[str, Any]) -> str:
    name = type_of(q).name
    return "" if name == "choice" else f" ({name})"


Names = dict[str, str]  # user id -> the name they had in the room
Summary = Callable[[dict[str, Any], Room, Names], str]


def _name(names: Names, user_id: str) -> str:
    return names.get(user_id, user_id[:8])


def _room_created(f: dict[str, Any], room: Room, names: Names) -> str:
    return (
        f'room {f["code"]} opened for "{f["quiz"]["title"]}" revision {f.get("quiz_revision", 1)} '
        f"({len(f['quiz']['questions'])} questions), host {f['host_name']}"
    )


def _question_shown(f: dict[str, Any], room: Room, names: Names) -> str:
    q = room.question(f["index"])
    return (
        f'{question_label(f["index"])} shown: "{q["text"]}" ({q["time_limit_s"]} s, '
        f"{q['points']}), "
        + (f"answers open {fmt_time(f['opens_at'])[11:]}, " if f["opens_at"] != f["shown_at"] else "")
        + f"deadline {fmt_time(f['deadline_at'])[11:]}"
    )


def _answer_submitted(f: dict[str, Any], room: Room, names: Names) -> str:
    q = room.question(f["question"])
    return (
        f"{question_label(f['question'])}{_type_note(q)}: {answer_words(q, f['answer'])} "
        f"{VERDICT_WORDS[f['verdict']]}, {f['points']} points, "
        f"streak {f['streak']}, after {f['elapsed_ms'] / 1000:.3f} s"
    )


def _question_closed(f: dict[str, Any], room: Room, names: Names) -> str:
    result = room.last_result
    assert result is not None  # the room has just closed a question
    q = room.question(f["index"])
    scores = ", ".join(f"{_name(names, u)} +{r['points']}={r['score']}" for u, r in result["results"].items())
    if type_of(q).name == "choice":
        outcome = f"correct {result['correct']}, answers {result['distribution']}"
    else:
        right = describe_right(q)
        outcome = (f"right answer {right}, " if right else "") + f"answers {_closed_answers(result)}"
    return (
        f"{question_label(f['index'])}{_type_note(q)} closed ({f['reason']}): {outcome}; "
        f"{scores or 'no players'}"
    )


def _closed_answers(result: dict[str, Any]) -> str:
    if "answers" in result:  # a slider: where the answers fell
        return ", ".join(f"{a['value']}×{a['count']}" for a in result["answers"]) or "none"
    if "wrong_answers" in result:  # a typed answer
        wrong = ", ".join(f"{w['text']!r}×{w['count']}" for w in result["wrong_answers"])
        return f"{result['right_count']} right" + (f", wrong {wrong}" if wrong else "")
    return str(result["distribution"])


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
    Room.NameRulesChanged: lambda f, room, names: (
        f"name rules: word filter {'on' if f['word_filter'] else 'off'}, "
        f"friendly names {'on' if f['friendly_names'] else 'off'}"
    ),
    Room.QuizStarted: lambda f, room, names: "quiz started",
    Room.QuestionShown: _question_shown,
    Room.AnswerSubmitted: _answer_submitted,
    Room.QuestionClosed: _question_closed,
    Room.LeaderboardShown: lambda f, room, names: f"{question_label(f['index'])} leaderboard shown",
    Room.QuizEnded: _quiz_ended,
    Room.RoomClosed: lambda f, room, names: f"room closed ({f['reason']})",
    Room.RoomTakenOver: lambda f, room, names: f"taken over by node {f['node']} (lease epoch {f['epoch']})",
}


def summary(event: Any, room: Room, names: Names) -> str:
    """One line on what an event did; ``room`` is the room right after it."""
    fields = event_fields(event)
    describe = SUMMARIES.get(type(event))
    if describe is None:
        return ", ".join(f"{k}={v}" for k, v in fields.items())
    return describe(fields, room, names)
