"""A room's timeline (one entry per event, with the seq it left the room at); its state as members saw it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from eventstore.replay import event_fields, event_type, replay
from quiz_actors import views
from quiz_actors.domain.questions import describe_answer
from quiz_actors.domain.room import Room
from quiz_actors.tools.output import fmt_time, table, who
from quiz_actors.tools.room_events import question_label, summary, time_ms, user_of


@dataclass(frozen=True)
class Entry:
    version: int
    seq: int
    time_ms: int
    type: str
    user_id: str | None
    name: str | None
    summary: str
    fields: dict[str, Any]

    def as_json(self) -> dict[str, Any]:
        return {
            "kind": "event",
            "version": self.version,
            "seq": self.seq,
            "time_ms": self.time_ms,
            "time": fmt_time(self.time_ms),
            "type": self.type,
            "user_id": self.user_id,
            "name": self.name,
            "summary": self.summary,
            "fields": self.fields,
        }


def build_timeline(events: list[Any]) -> list[Entry]:
    """Replay the room's events one by one (raises ReplayError at one that fails)."""
    entries, names = [], {}
    for step in replay(events):
        event, room = step.event, step.aggregate
        fields = event_fields(event)
        if "host_name" in fields:
            names[fields["host_id"]] = fields["host_name"]
        if "name" in fields and "user_id" in fields:
            names[fields["user_id"]] = fields["name"]
        try:
            line = summary(event, room, names)
        except Exception as e:  # noqa: BLE001 - a damaged event is for --check to explain
            line = f"(cannot describe: {type(e).__name__}: {e})"
        user = user_of(event)
        entries.append(
            Entry(
                step.version,
                room.seq,
                time_ms(event),
                event_type(event),
                user,
                names.get(user) if user else None,
                line,
                fields,
            )
        )
    return entries


def timeline_table(entries: list[Entry]) -> str:
    return table(
        ["seq", "ver", "time (UTC)", "event", "who", "what"],
        [[e.seq, e.version, fmt_time(e.time_ms), e.type, who(e.name, e.user_id), e.summary] for e in entries],
    )


def state_json(room: Room) -> dict[str, Any]:
    """The room as every member's ``state`` message shows it, plus what only the server knows."""
    return {
        "kind": "state",
        "seq": room.seq,
        "version": room.version,
        "room": json.loads(views.state(room, room.host_id, views.MemberList()))["room"],
        "detail": {
            "members": list(room.members.values()),
            "departed": room.departed,
            "kicked": sorted(room.kicked),
            "answers": room.answers(),
            "last_result": room.last_result,
            "lock_reason": room.lock_reason,
            "started_at": room.started_at,
            "ended_at": room.ended_at,
            "closed_reason": room.closed_reason,
            "last_event_at": room.last_event_at,
        },
    }


def state_text(room: Room) -> str:
    lines = [
        f"Room {room.code} at seq {room.seq} (version {room.version}), "
        f"last event {fmt_time(room.last_event_at)} UTC",
        f"  phase {room.phase}"
        + (f", locked ({room.lock_reason})" if room.locked else ", unlocked")
        + (f", closed ({room.closed_reason})" if room.closed_reason else ""),
    ]
    if room.current is not None:
        q = room.question(room.current["index"])
        shown, deadline = fmt_time(room.current["shown_at"]), fmt_time(room.current["deadline_at"])
        lines.append(
            f'  {question_label(room.current["index"])} of {room.question_count}: "{q["text"]}", '
            f"shown {shown}, deadline {deadline}"
        )
    answers = room.answers()
    open_q = room.question(room.current["index"]) if room.current is not None else None
    rows = []
    for user_id, m in room.members.items():
        a = answers.get(user_id)
        role = "host" if user_id == room.host_id else "player"
        rows.append(
            [
                m["name"],
                user_id,
                role,
                m["online"],
                m["score"],
                m["streak"],
                ""
                if a is None or open_q is None
                else f"{describe_answer(open_q, a['answer'])} ({a['points']} points)",
            ]
        )
    lines.append("")
    lines.append(table(["member", "user", "role", "online", "score", "streak", "answer"], rows))
    ranking = room.ranking()
    if ranking:
        lines.append("")
        lines.append("ranks: " + ", ".join(f"{r['rank']}. {r['name']} {r['score']}" for r in ranking))
    return "\n".join(lines)
