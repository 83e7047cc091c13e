"""Server messages that are not a view of a room: replies to one client, pings, errors.

Every message an actor sends is built either here or in ``views.py`` (what
members see of a room), never as a dict written inline in an actor, so the
wire contract (docs/protocol.md) is read in two places. These return plain
dicts; the actor adds the client's ``ref`` and encodes.
"""

from __future__ import annotations

from typing import Any

from quiz_actors.domain.errors import RoomError
from quiz_actors.protocol import error

Message = dict[str, Any]


# ---------------------------------------------------------------- replies and pings


def welcome(user_id: str, token: str | None, server_time: int, heartbeat_ms: int) -> Message:
    return {
        "type": "welcome",
        "user_id": user_id,
        "token": token,
        "server_time": server_time,
        "heartbeat_ms": heartbeat_ms,
    }


def pong(t: object) -> Message:
    return {"type": "pong", "t": t}


def ping(t: int) -> Message:
    return {"type": "ping", "t": t}


def answer_accepted(question: int) -> Message:
    return {"type": "answer_accepted", "question": question}


# ---------------------------------------------------------------- errors


def refused(reason: RoomError) -> Message:
    """A command the room's rules refused, in the rule's own code and words."""
    return {**error(reason.code, reason.message), **reason.details}


def internal_error() -> Message:
    return error("internal", "Something went wrong on the server")


def save_failed() -> Message:
    """A room could not store a command: it changed nothing."""
    return error("busy", "The server could not store that; nothing changed, try again")


def store_unreachable() -> Message:
    return error("busy", "The server cannot reach its store; try again")


def room_not_created() -> Message:
    return error("busy", "The server could not create the room; try again")


def quiz_not_found(quiz_id: str) -> Message:
    return error("quiz_not_found", f"No quiz has id {quiz_id[:64]}")


def quiz_archived(title: str) -> Message:
    return error(
        "quiz_archived",
        f'The quiz "{title[:120]}" was deleted: new rooms cannot use it (games played keep it)',
    )


def rate_limited(reason: str) -> Message:
    return error("rate_limited", reason)


def join_refused(reason: str, message: str, retry_after_s: int) -> Message:
    """The join limits refused this address (actors/join_guard.py): why, in a word pages
    translate, and when to try again."""
    return {**error("rate_limited", message), "reason": reason, "retry_after_s": retry_after_s}


def redirect(url: str, node: str) -> Message:
    """Cluster mode: this room is served by another node; reconnect to ``url`` (relative to
    the URL the socket was opened with) and join again (docs/protocol.md, "redirect")."""
    return {"type": "redirect", "url": url, "node": node}


def room_not_found(code: str) -> Message:
    return error("room_not_found", f"No open room has code {code[:12]}")


def not_in_room() -> Message:
    return error("not_member", "You are not in this room")


def join_first() -> Message:
    return error("not_member", "Join a room first")


def not_a_room_command(kind: str) -> Message:
    return error("unknown_type", f"Rooms do not handle {kind!r}")


def hello_first() -> Message:
    return error("not_authenticated", "Send hello first")


def admin_key_needed() -> Message:
    return error("unauthorized", "Creating rooms needs the server's admin key")


def token_refused() -> Message:
    return error("unauthorized", "That token is invalid or expired")


def room_has_closed() -> Message:
    return error("room_closed", "This room has closed")


def replaced() -> Message:
    return error("replaced", "You connected from somewhere else")
