"""Reports on games: one game (per player, per question) and one user's history.

Who was playing a question, what each answer earned and each player's score are
the Room aggregate's own state, read from the room replayed as the server
replays it; nothing here works them out again from the raw events.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from eventstore.replay import replay
from quiz_actors.domain.questions import describe_answer, public_view, type_of
from quiz_actors.domain.room import CLOSED, ENDED, QUESTION, Room
from quiz_actors.tools.audit_model import AuditRow
from quiz_actors.tools.room_events import user_of

GAME_COLUMNS = (
    "room_id",
    "code",
    "question",
    "question_text",
    "user_id",
    "name",
    "answered",
    "choice",
    "choice_text",
    "correct",
    "points",
    "elapsed_ms",
    "final_score",
    "final_rank",
    "question_type",
    "answer",
    "verdict",
    "quiz_revision",
)
TYPE_COLUMNS = ("question_type", "questions", "answers", "right", "wrong", "unjudged", "no_answer", "points")
RANK_COLUMNS = ("rank", "user_id", "name", "score")
HISTORY_COLUMNS = (
    "room_id",
    "code",
    "title",
    "quiz_revision",
    "role",
    "names",
    "joined_at_ms",
    "answers",
    "correct",
    "score",
    "status",
)


@dataclass(frozen=True)
class _Question:
    index: int
    answers: dict[str, dict[str, Any]]
    players: set[str]  # members who were players when it closed; none while it is open


def game_report(events: Iterable[Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """One row per player per question, and the final ranks, from replaying the room's events.

    A question's rows are every player at its close and anyone who answered it
    (a player who answered and then left has a row, without a score from it).
    """
    room: Room | None = None
    names: dict[str, str] = {}  # everyone who was ever a member, by the name they had last
    questions: list[_Question] = []
    for step in replay(events):
        room, event = step.aggregate, step.event
        user = user_of(event)
        if user is not None and user in room.members:
            names[user] = room.members[user]["name"]
        if isinstance(event, Room.QuestionClosed):
            assert room.current is not None and room.last_result is not None
            questions.append(
                _Question(event.index, dict(room.current["answers"]), set(room.last_result["results"]))
            )
    if room is None:
        return [], []
    if room.phase == QUESTION and room.current is not None:
        questions.append(_Question(room.current["index"], dict(room.current["answers"]), set()))
    ranking = room.ranking()
    ranks = {r["user_id"]: r for r in ranking}
    out = []
    for q in questions:
        text = room.question(q.index)
        choices = public_view(text)["choices"]  # true_false's are "True" and "False"
        for user in sorted(q.players | set(q.answers), key=lambda u: (names.get(u, "").casefold(), u)):
            a = q.answers.get(user)
            out.append(
                {
                    "room_id": str(room.id),
                    "code": room.code,
                    "question": q.index,
                    "question_text": text["text"],
                    "user_id": user,
                    "name": names.get(user),
                    "answered": a is not None,
                    "choice": a["choice"] if a else None,
                    "choice_text": choices[a["choice"]] if a and a["choice"] is not None else None,
                    "correct": bool(a and a["correct"]),
                    "points": a["points"] if a else 0,
                    "elapsed_ms": a["elapsed_ms"] if a else None,
                    "final_score": ranks.get(user, {}).get("score"),
                    "final_rank": ranks.get(user, {}).get("rank"),
                    "question_type": type_of(text).name,
                    "answer": describe_answer(text, a["answer"]) if a else None,
                    "verdict": a["verdict"] if a else None,
                    "quiz_revision": room.quiz_revision,  # which revision of the quiz was played
                }
            )
    return out, ranking


def by_type(game: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A game's rows summed up per question type, in the order the types first came up."""
    out: dict[str, dict[str, Any]] = {}
    questions: dict[str, set[int]] = {}
    for row in game:
        kind = row["question_type"]
        entry = out.setdefault(kind, {c: 0 for c in TYPE_COLUMNS} | {"question_type": kind})
        questions.setdefault(kind, set()).add(row["question"])
        entry["answers"] += row["answered"]
        entry["no_answer"] += not row["answered"]
        if row["verdict"] is not None:
            entry[row["verdict"]] += 1  # right, wrong or unjudged: each a column
        entry["points"] += row["points"]
    for kind, entry in out.items():
        entry["questions"] = len(questions[kind])
    return list(out.values())


# Loads a room as the server does (snapshot, then events), at a version or as it is now.
LoadRoom = Callable[[str, int | None], Room]


def user_history(user_id: str, user_rows: list[AuditRow], load_room: LoadRoom) -> list[dict[str, Any]]:
    """Every room the user created or joined, oldest first, with their names there and their score.

    The score is the one the room keeps for them: as a member, or as one who
    left (it comes back if they return); a kicked member's is the one they had
    just before the kick.
    """
    rooms: dict[str, dict[str, Any]] = {}
    for row in sorted(user_rows, key=lambda r: r.notification_id):
        if row.room_id is None:
            continue
        entry = rooms.get(row.room_id)
        if entry is None:
            entry = rooms[row.room_id] = {
                "room_id": row.room_id,
                "code": row.code,
                "role": "player",
                "names": [],
                "joined_at_ms": row.at_ms,
                "answers": {},
                "kicked_at": None,
            }
        f, kind = row.fields, row.event_type
        if kind == Room.RoomCreated.__name__:
            entry["role"] = "host"
        elif kind == Room.MemberKicked.__name__:
            entry["kicked_at"] = row.version
        name = f.get("name") or f.get("host_name")
        if name and name not in entry["names"]:
            entry["names"].append(name)
        if kind == Room.AnswerSubmitted.__name__:
            entry["answers"][f["question"]] = f
    out = []
    for room_id, entry in rooms.items():
        room = load_room(room_id, None)
        answers = entry["answers"]
        out.append(
            {
                "room_id": room_id,
                "code": entry["code"],
                "title": room.quiz["title"],
                "quiz_revision": room.quiz_revision,
                "role": entry["role"],
                "names": ", ".join(entry["names"]),
                "joined_at_ms": entry["joined_at_ms"],
                "answers": len(answers),
                "correct": sum(1 for a in answers.values() if a["correct"]),
                "score": _score(room, user_id, entry["kicked_at"], load_room),
                "status": "closed" if room.phase == CLOSED else ("ended" if room.phase == ENDED else "open"),
            }
        )
    return out


def _score(room: Room, user_id: str, kicked_at: int | None, load_room: LoadRoom) -> int:
    if kicked_at is not None:
        room = load_room(str(room.id), kicked_at - 1)
    kept = room.members.get(user_id) or room.departed.get(user_id)
    return kept["score"] if kept else 0
