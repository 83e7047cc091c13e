"""One game's results as a teacher reads them: the report the host page shows and downloads,
and each player's own answers.

Built on ``reports.play_back`` and ``reports.game_rows`` (what ``quiz-audit game``
prints): who was asked each question, what each answer earned and the ranking
are the Room aggregate's own, replayed; this module only groups and counts them.
Everything returned is plain JSON-able data.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

from quiz_actors.domain.questions import answer_words, describe_right, is_judged, public_view
from quiz_actors.domain.room import CLOSED, ENDED, Room, revealed
from quiz_actors.tools.reports import PlayedGame, PlayedQuestion, game_rows, play_back

HARDEST_SHOWN = 3  # questions listed as the hardest
NO_ANSWER = "no_answer"  # a player's result on a question they did not answer (else the verdict)
RESULT_WORDS = {"right": "right", "wrong": "wrong", "unjudged": "not judged (poll)", NO_ANSWER: "no answer"}


def game_results(events: Iterable[Any]) -> dict[str, Any] | None:
    """The report of the room whose events these are (None when there are none)."""
    played = play_back(events)
    if played is None:
        return None
    room = played.room
    rows = game_rows(played)
    ranks = {r["user_id"]: r for r in room.ranking()}
    by_question: dict[int, list[dict[str, Any]]] = {}
    by_player: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_question.setdefault(row["question"], []).append(row)
        by_player.setdefault(row["user_id"], []).append(row)
    questions = [_question(room, q, by_question.get(q.index, [])) for q in played.questions]
    return {
        "room_id": str(room.id),
        "code": room.code,
        "title": room.quiz["title"],
        "host_name": played.names.get(room.host_id) or room.members.get(room.host_id, {}).get("name"),
        "phase": room.phase,
        "finished": room.phase in (ENDED, CLOSED),
        "created_at_ms": room.created_at,
        "started_at_ms": room.started_at,
        "ended_at_ms": room.ended_at,
        "question_count": room.question_count,
        "questions_played": len([q for q in questions if not q["open"]]),
        "ranking": [_ranked(r, by_player.get(r["user_id"], [])) for r in room.ranking()],
        "questions": questions,
        "hardest": _hardest(questions),
        "players": _players(played, by_player, ranks),
    }


def player_results(report: dict[str, Any], user_id: str) -> dict[str, Any] | None:
    """One player's own answers to the questions that have closed (None: they never played)."""
    player = next((p for p in report["players"] if p["user_id"] == user_id), None)
    if player is None:
        return None
    closed = {q["index"]: q for q in report["questions"] if not q["open"]}
    return {
        "room_id": report["room_id"],
        "code": report["code"],
        "title": report["title"],
        "name": player["name"],
        "rank": player["rank"],
        "score": player["score"],
        "players": len(report["ranking"]),
        "answers": [
            {**a, "right_answer": closed[a["question"]]["right_answer"]}
            for a in player["answers"]
            if a["question"] in closed
        ],
    }


def _result(row: dict[str, Any]) -> str:
    return str(row["verdict"]) if row["answered"] else NO_ANSWER


def _ranked(rank: dict[str, Any], mine: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        **rank,
        "answered": sum(1 for r in mine if r["answered"]),
        "right": sum(1 for r in mine if r["verdict"] == "right"),
    }


def _question(room: Room, played: PlayedQuestion, rows: list[dict[str, Any]]) -> dict[str, Any]:
    q = room.question(played.index)
    judged = is_judged(q)
    results = Counter(_result(r) for r in rows)
    answered = [r for r in rows if r["answered"]]
    right = results["right"]
    # The answers in words, most given first: what the reveal's bars show, for every type alike.
    given: Counter[tuple[str, str]] = Counter()
    for r in answered:
        given[(answer_words(q, played.answers[r["user_id"]]["answer"]), _result(r))] += 1
    shown = {
        "index": played.index,
        "count": room.question_count,
        "text": q["text"],
        **public_view(q),
        "time_limit_ms": q["time_limit_s"] * 1000,
    }
    if played.reveal is not None:
        shown.update(revealed(played.reveal))
    return {
        "index": played.index,
        "number": played.index + 1,
        "text": q["text"],
        "question_type": q.get("type", "choice"),
        "points": q["points"],
        "judged": judged,
        "open": played.reveal is None,
        "right_answer": describe_right(q),
        "players": len(rows),
        "answered": len(answered),
        "right": right,
        "wrong": results["wrong"],
        "no_answer": results[NO_ANSWER],
        "accuracy": (right / len(rows)) if judged and rows else None,
        "average_ms": round(sum(r["elapsed_ms"] for r in answered) / len(answered)) if answered else None,
        "answers": [
            {"answer": words, "result": result, "count": count}
            for (words, result), count in sorted(given.items(), key=lambda item: (-item[1], item[0]))
        ],
        "reveal": shown,
    }


def _hardest(questions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The judged, closed questions fewest players got right (ties: the earlier first);
    one that everybody got right is not hard."""
    scored = [q for q in questions if q["accuracy"] is not None and q["accuracy"] < 1 and not q["open"]]
    scored.sort(key=lambda q: (q["accuracy"], q["index"]))
    return [
        {"index": q["index"], "number": q["number"], "text": q["text"], "accuracy": q["accuracy"]}
        for q in scored[:HARDEST_SHOWN]
    ]


def _players(
    played: PlayedGame, by_player: dict[str, list[dict[str, Any]]], ranks: dict[str, Any]
) -> list[dict[str, Any]]:
    """Everyone who was asked a question: the ranked players in rank order, then those who left."""
    room = played.room
    questions = {q.index: q for q in played.questions}
    gone = sorted(set(by_player) - set(ranks), key=lambda u: (played.names.get(u, "").casefold(), u))
    users = [*ranks, *gone]
    out = []
    for user in users:
        mine = by_player.get(user, [])
        rank = ranks.get(user)
        status = "playing" if rank else ("removed" if user in room.kicked else "left")
        out.append(
            {
                "user_id": user,
                "name": played.names.get(user) or (rank or {}).get("name") or user[:8],
                "rank": rank["rank"] if rank else None,
                "score": rank["score"] if rank else None,
                "status": status,
                "answers": [_answer(room, questions[r["question"]], r) for r in mine],
            }
        )
    return out


def _answer(room: Room, question: PlayedQuestion, row: dict[str, Any]) -> dict[str, Any]:
    q = room.question(row["question"])
    given = question.answers.get(row["user_id"])
    result = _result(row)
    return {
        "question": row["question"],
        "number": row["question"] + 1,
        "text": q["text"],
        "question_type": q.get("type", "choice"),
        "answer": answer_words(q, given["answer"]) if given else None,
        "result": result,
        "result_words": RESULT_WORDS[result],
        "points": row["points"],
        "elapsed_ms": row["elapsed_ms"],
    }
