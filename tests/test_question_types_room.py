"""The Room aggregate with question types: decided, replayed, and loaded from an older snapshot."""

from __future__ import annotations

import copy

import pytest
from eventsourcing.domain import Snapshot

from quiz_actors.domain.errors import RoomError
from quiz_actors.domain.quiz import validate_quiz_document
from quiz_actors.domain.room import Room, describe_question
from tests.test_question_types_e2e import QUIZ
from tests.test_room_aggregate import QUIZ as CHOICE_QUIZ
from tests.test_room_aggregate import T0, public_state, replayed


def playing(quiz: dict) -> Room:
    room = Room.open(
        code="123456", quiz_id="q", quiz=validate_quiz_document(quiz), host_id="host", host_name="Host", at=T0
    )
    for user in ("ann", "ben"):
        room.join(user, user.title(), T0, max_players=10)
    room.start("host", T0)
    return room


def test_a_refused_answer_changes_nothing_and_the_player_may_answer_again():
    room = playing(QUIZ)
    room.next("host", T0)  # skip the choice question
    room.next("host", T0)
    version = room.version
    for bad in ({"choices": []}, {"choice": 1}, {"choices": [0, 9]}):
        with pytest.raises(RoomError) as refused:
            room.answer("ann", 1, bad, T0 + 10)
        assert refused.value.code == "bad_answer"
    assert room.version == version and room.answers() == {}
    recorded = room.answer("ann", 1, {"choices": [2, 0]}, T0 + 10)
    assert (recorded["answer"], recorded["verdict"], recorded["choice"]) == (
        {"choices": [2, 0]},
        "right",
        None,
    )


def test_replaying_a_game_of_every_type_reproduces_it():
    room = playing(QUIZ)
    payloads = [
        {"choice": 1},
        {"choices": [0, 2]},
        {"choice": 1},
        {"text": "madrid"},
        {"value": 95},
        None,
        {"choice": 2},
    ]
    for index, payload in enumerate(payloads):
        if payload is None:
            items = describe_question(room)["items"]
            payload = {"order": [items.index(i) for i in ["W", "X", "Y", "Z"]]}
        room.answer("ann", index, payload, T0 + 1000 * index)
        room.next("host", T0 + 1000 * index)
        room.next("host", T0 + 1000 * index)
    assert public_state(replayed(room)) == public_state(room)


def test_a_snapshot_from_before_question_types_loads_and_plays_on():
    room = playing(CHOICE_QUIZ)
    room.answer("ann", 0, 1, T0 + 100)
    room.collect_events()
    snapshot = Snapshot.take(room)
    # As the release before question types wrote it: no class_version, answers without payload or verdict.
    old = copy.deepcopy(snapshot.state)
    del old["class_version"]
    for a in old["current"]["answers"].values():
        del a["answer"], a["verdict"]
    snapshot.__dict__["state"] = old
    restored = snapshot.mutate(None)
    for game in (room, restored):
        game.answer("ben", 0, 0, T0 + 200)
        game.close_question("all_answered", T0 + 300)
    assert restored.last_result == room.last_result
    assert restored.last_result["question_type"] == "choice"
    assert restored.last_result["distribution"] == [1, 1, 0]
    assert [m["score"] for m in restored.members.values()] == [m["score"] for m in room.members.values()]
