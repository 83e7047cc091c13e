"""What members see of a room: wire messages built from the Room aggregate.

Everything here is read-only over the room's state. Nothing built before a
question closes contains its correct choices.
"""

from __future__ import annotations

from quiz_actors.domain.room import QUESTION, Room, describe_question

LEADERBOARD_SIZE = 10
PODIUM_SIZE = 3


def member_view(member: dict) -> dict:
    return {
        "user_id": member["user_id"],
        "name": member["name"],
        "online": member["online"],
        "score": member["score"],
    }


def state(room: Room, user_id: str) -> dict:
    member = room.members.get(user_id)
    answered = room.phase == QUESTION and user_id in room.answers()
    return {
        "type": "state",
        "seq": room.seq,
        "room": {
            "code": room.code,
            "room_id": str(room.id),
            "title": room.quiz["title"],
            "phase": room.phase,
            "locked": room.locked,
            "host_id": room.host_id,
            "question_count": room.question_count,
            "members": [member_view(m) for m in room.members.values()],
            "question": describe_question(room),
        },
        "you": {
            "user_id": user_id,
            "is_host": room.is_host(user_id),
            "score": member["score"] if member else 0,
            "answered": answered,
        },
    }


def question_shown(room: Room) -> dict:
    public = describe_question(room)
    return {"type": "question_shown", "seq": room.seq, **public}


def question_closed(room: Room, seq: int, user_id: str) -> dict:
    result = room.last_result
    message = {
        "type": "question_closed",
        "seq": seq,
        "index": result["index"],
        "reason": result["reason"],
        "correct": result["correct"],
        "distribution": result["distribution"],
    }
    mine = result["results"].get(user_id)
    if mine is not None:
        message["you"] = dict(mine)
    return message


def _rank_of(ranking: list[dict], user_id: str) -> dict | None:
    for row in ranking:
        if row["user_id"] == user_id:
            return {"rank": row["rank"], "score": row["score"]}
    return None


def leaderboard(ranking: list[dict], user_id: str) -> dict:
    message = {"type": "leaderboard", "top": ranking[:LEADERBOARD_SIZE]}
    you = _rank_of(ranking, user_id)
    if you is not None:
        message["you"] = you
    return message


def quiz_ended(ranking: list[dict], seq: int, user_id: str) -> dict:
    message = {"type": "quiz_ended", "seq": seq, "podium": ranking[:PODIUM_SIZE]}
    you = _rank_of(ranking, user_id)
    if you is not None:
        message["you"] = you
    return message
