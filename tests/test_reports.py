"""quiz-audit's reports read the room's own state: a player who left keeps the score
the room kept for them, a kicked player the score they had just before the kick."""

from __future__ import annotations

from typing import Any

from eventstore.replay import event_fields, event_type, replay
from quiz_actors.domain.room import Room
from quiz_actors.tools.audit_model import AuditRow, audit_columns
from quiz_actors.tools.reports import game_report, user_history

QUIZ = {
    "title": "Two",
    "questions": [
        {"text": "Q1", "choices": ["a", "b"], "correct": [1], "time_limit_s": 20, "points": "standard"},
        {"text": "Q2", "choices": ["a", "b"], "correct": [0], "time_limit_s": 20, "points": "standard"},
    ],
}
T0 = 1_000_000


def played_room() -> tuple[Room, list[Any]]:
    """Ann, Ben and Cat score on Q1; Ben leaves during Q2 after answering it; Cat is kicked."""
    room = Room.open(code="123456", quiz_id="q", quiz=QUIZ, host_id="host", host_name="Host", at=T0)
    for user in ("ann", "ben", "cat"):
        room.join(user, user.title(), T0, 100)
    room.start("host", T0)
    for user in ("ann", "ben", "cat"):
        room.answer(user, 0, 1, T0 + 1)  # within half a second: 1000 each
    room.close_question("all_answered", T0 + 1)
    room.next("host", T0 + 2)
    room.answer("ben", 1, 0, T0 + 3)
    room.leave("ben", T0 + 4)  # before the close: this answer is not scored
    room.close_question("timeout", T0 + 20_002)
    room.kick("host", "cat", T0 + 20_003)
    return room, list(room.collect_events())


def rows_of(user_id: str, events: list[Any]) -> list[AuditRow]:
    rows = []
    for nid, event in enumerate(events, start=1):
        cols = audit_columns(event)
        if cols.user_id == user_id:
            rows.append(
                AuditRow(
                    notification_id=nid,
                    aggregate_id=str(event.originator_id),
                    version=event.originator_version,
                    event_type=event_type(event),
                    at_ms=cols.at_ms or 0,
                    room_id=cols.room_id,
                    code="123456",
                    user_id=user_id,
                    name=cols.name,
                    fields=event_fields(event),
                )
            )
    return rows


def test_the_history_takes_each_score_from_the_room() -> None:
    room, events = played_room()
    loads: list[int | None] = []

    def load(room_id: str, version: int | None) -> Room:
        loads.append(version)
        steps = list(replay(e for e in events if version is None or e.originator_version <= version))
        rebuilt: Room = steps[-1].aggregate
        return rebuilt

    scores = {
        user: user_history(user, rows_of(user, events), load)[0]["score"] for user in ("ann", "ben", "cat")
    }
    assert scores == {"ann": 1000, "ben": 1000, "cat": 1000}
    kicked = next(e for e in events if isinstance(e, Room.MemberKicked))
    assert kicked.originator_version - 1 in loads  # Cat's score is read from the room just before the kick
    history = user_history("ben", rows_of("ben", events), load)[0]
    assert (history["answers"], history["correct"], history["status"]) == (2, 2, "open")


def test_the_game_report_lists_who_played_each_question() -> None:
    room, events = played_room()
    rows, ranking = game_report(events)
    by_question = {(r["question"], r["name"]): (r["answered"], r["points"], r["final_rank"]) for r in rows}
    assert by_question == {
        (0, "Ann"): (True, 1000, 1),
        (0, "Ben"): (True, 1000, None),  # left: not ranked
        (0, "Cat"): (True, 1000, None),  # kicked: not ranked
        (1, "Ann"): (False, 0, 1),
        (1, "Ben"): (True, 1100, None),  # answered (streak 2), then left before the close
        (1, "Cat"): (False, 0, None),
    }
    assert ranking == room.ranking() == [{"rank": 1, "user_id": "ann", "name": "Ann", "score": 1000}]
