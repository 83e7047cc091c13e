"""Reports built from audit rows: one game (per player, per question) and one user's history."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from eventstore.audit import AuditRow
from quiz_actors.domain.questions import describe_answer, public_view, type_of
from quiz_actors.tools.room_events import answer_payload, answer_verdict

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
)
TYPE_COLUMNS = ("question_type", "questions", "answers", "right", "wrong", "unjudged", "no_answer", "points")
RANK_COLUMNS = ("rank", "user_id", "name", "score")
HISTORY_COLUMNS = (
    "room_id",
    "code",
    "title",
    "role",
    "names",
    "joined_at_ms",
    "answers",
    "correct",
    "score",
    "status",
)


@dataclass
class _Question:
    index: int
    answers: dict[str, dict] = field(default_factory=dict)
    players: set[str] | None = None  # members who were players when it closed; None while open


def game_rows(rows: list[AuditRow], ranking: list[dict]) -> list[dict]:
    """One row per player per question: every player at a question's close, and anyone who answered it.

    ``rows`` are one room's audit rows; ``ranking`` is the room's final ranking
    (``Room.ranking()``: scores, and ties broken by who reached the score first).
    """
    ordered = sorted(rows, key=lambda r: r.notification_id)  # the store's order, not the clock's
    names: dict[str, str] = {}
    players: set[str] = set()
    questions: dict[int, _Question] = {}
    quiz: dict[str, Any] = {"questions": []}
    code = room_id = None
    for row in ordered:
        f, kind = row.fields, row.event_type
        if kind == "RoomCreated":
            quiz, code, room_id = f["quiz"], f["code"], row.room_id
            names[f["host_id"]] = f["host_name"]
        elif kind == "MemberJoined":
            players.add(f["user_id"])
            names[f["user_id"]] = f["name"]
        elif kind in ("MemberLeft", "MemberKicked"):
            players.discard(f["user_id"])
        elif kind == "QuestionShown":
            questions[f["index"]] = _Question(f["index"])
        elif kind == "AnswerSubmitted":
            questions[f["question"]].answers[f["user_id"]] = f
        elif kind == "QuestionClosed":
            questions[f["index"]].players = set(players)
    ranks = {r["user_id"]: r for r in ranking}
    out = []
    for q in sorted(questions.values(), key=lambda q: q.index):
        text = quiz["questions"][q.index]
        choices = public_view(text)["choices"]  # true_false's are "True" and "False"
        who = (q.players or set()) | set(q.answers)
        for user in sorted(who, key=lambda u: (names.get(u, "").casefold(), u)):
            a = q.answers.get(user)
            out.append(
                {
                    "room_id": room_id,
                    "code": code,
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
                    "answer": describe_answer(text, answer_payload(a)) if a else None,
                    "verdict": answer_verdict(a) if a else None,
                }
            )
    return out


def by_type(game: list[dict]) -> list[dict]:
    """The game's rows summed up per question type, in the order the types first came up."""
    out: dict[str, dict] = {}
    questions: dict[str, set[int]] = {}
    for row in game:
        kind = row["question_type"]
        entry = out.setdefault(kind, {c: 0 for c in TYPE_COLUMNS} | {"question_type": kind})
        questions.setdefault(kind, set()).add(row["question"])
        entry["answers"] += row["answered"]
        entry["no_answer"] += not row["answered"]
        if row["verdict"] is not None:
            entry[row["verdict"]] += 1
        entry["points"] += row["points"]
    for kind, entry in out.items():
        entry["questions"] = len(questions[kind])
    return list(out.values())


def user_history(user_id: str, user_rows: list[AuditRow], room_rows: dict[str, list[AuditRow]]) -> list[dict]:
    """Every room the user created or joined, oldest first, with their names there and their score.

    ``room_rows`` holds, per room, its RoomCreated, QuestionClosed, QuizEnded and
    RoomClosed rows. The score adds the points of answers to questions that
    closed while the user was a member, as the room does.
    """
    rooms: dict[str, dict] = {}
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
                "spans": [],
            }
        f, kind = row.fields, row.event_type
        if kind == "RoomCreated":
            entry["role"] = "host"
        if kind in ("RoomCreated", "MemberJoined"):
            entry["spans"].append([row.notification_id, None])
        elif kind in ("MemberLeft", "MemberKicked") and entry["spans"]:
            entry["spans"][-1][1] = row.notification_id
        name = f.get("name") or f.get("host_name")
        if name and name not in entry["names"]:
            entry["names"].append(name)
        if row.event_type == "AnswerSubmitted":
            entry["answers"][f["question"]] = f
    out = []
    for room_id, entry in rooms.items():
        facts = room_rows.get(room_id, [])
        closed_at = {r.fields["index"]: r.notification_id for r in facts if r.event_type == "QuestionClosed"}
        title = next((r.fields["quiz"]["title"] for r in facts if r.event_type == "RoomCreated"), None)
        status = (
            "closed"
            if any(r.event_type == "RoomClosed" for r in facts)
            else ("ended" if any(r.event_type == "QuizEnded" for r in facts) else "open")
        )
        answers = entry["answers"]
        out.append(
            {
                "room_id": room_id,
                "code": entry["code"],
                "title": title,
                "role": entry["role"],
                "names": ", ".join(entry["names"]),
                "joined_at_ms": entry["joined_at_ms"],
                "answers": len(answers),
                "correct": sum(1 for a in answers.values() if a["correct"]),
                "score": sum(
                    a["points"]
                    for q, a in answers.items()
                    if q in closed_at and _member_at(entry["spans"], closed_at[q])
                ),
                "status": status,
            }
        )
    return out


def _member_at(spans: list[list], notification_id: int) -> bool:
    return any(start < notification_id and (end is None or notification_id < end) for start, end in spans)
