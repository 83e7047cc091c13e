"""The Room aggregate with question types: decided, replayed, and loaded from an older snapshot."""

from __future__ import annotations

import copy
import random
from typing import Any

import pytest
from eventsourcing.domain import Snapshot
from hypothesis import given, settings
from hypothesis import strategies as st

from eventstore.replay import check
from quiz_actors.domain.errors import RoomError
from quiz_actors.domain.questions.order import right_order_as_shown
from quiz_actors.domain.quiz import validate_quiz_document
from quiz_actors.domain.room import Room, describe_question
from quiz_actors.tools.rescore import rescore
from quiz_actors.tools.room_rules import RoomRules
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


# Payloads of every shape, most fitting the open question, some not: the room must take or
# refuse each and stay consistent.
misfits = st.one_of(
    st.builds(lambda c: {"choice": c}, st.integers(-1, 4)),
    st.builds(lambda c: {"choices": c}, st.lists(st.integers(-1, 4), max_size=5)),
    st.builds(lambda t: {"text": t}, st.sampled_from(["", "x" * 41, "a\x00b"])),
    st.builds(lambda v: {"value": v}, st.sampled_from([-5, 2.5, 201, 111])),
    st.builds(lambda o: {"order": o}, st.lists(st.integers(0, 4), max_size=5)),
)
# One block of commands per question, each block followed by the host's "next" (close, show).
per_question = st.lists(
    st.tuples(
        st.sampled_from(["answer", "answer", "answer", "answer", "timeout", "join", "leave", "offline"]),
        st.sampled_from(["ann", "ben", "cat"]),
        st.integers(0, 10**6),
        misfits,
        st.integers(0, 8_000),
    ),
    max_size=8,
)
type_commands = st.lists(per_question, min_size=7, max_size=7)


def fitting(room: Room, seed: int) -> dict[str, Any]:
    """A payload that fits the open question, right or wrong as the seed falls."""
    q = describe_question(room) or {}
    kind = q.get("question_type")
    if kind in ("choice", "true_false", "poll"):
        return {"choice": seed % len(q["choices"])}
    if kind == "multi":
        return {"choices": [i for i in range(4) if (seed + 1) >> i & 1] or [0]}
    if kind == "type_answer":
        return {"text": ["madrid", " MÁDRID", "Lyon", "Villa  de Madrid", "madird"][seed % 5]}
    if kind == "slider":
        return {"value": 5 * (seed % 41)}
    if seed % 3 == 0:
        return {"order": right_order_as_shown(room.question(room.question_index)["items"])}
    order = list(range(4))
    random.Random(seed).shuffle(order)
    return {"order": order}


@settings(max_examples=150, deadline=None)
@given(type_commands)
def test_any_play_of_every_type_replays_checks_and_rescores_clean(script):
    room = playing(QUIZ)
    now = T0
    for block in script:
        for kind, user, seed, misfit, delay in block:
            now += delay
            try:
                if kind == "answer":
                    payload = misfit if seed % 5 == 0 else fitting(room, seed)
                    room.answer(user, room.question_index, payload, now)
                elif kind == "timeout":
                    room.close_question("timeout", now)
                elif kind == "join":
                    room.join(user, user.title(), now, 10)
                elif kind == "leave":
                    room.leave(user, now)
                else:
                    room.go_offline(user, "disconnected", now)
            except RoomError as refused:
                assert refused.code in REFUSALS, refused.code
        room.close_question("skipped", now)
        room.next("host", now)  # the next question, or the end
    events = room.collect_events()
    assert public_state(replayed_from(events)) == public_state(room)
    result = check(events, RoomRules())
    assert result.ok, result.problem
    assert all(r.adds_up for r in rescore(events))


REFUSALS = {"bad_answer", "bad_choice", "too_late", "wrong_phase", "already_answered", "not_member"}
REFUSALS |= {"not_player", "room_full", "name_taken", "kicked", "room_locked", "room_closed", "not_host"}


def replayed_from(events: list[Any]) -> Room:
    copy = None
    for e in events:
        copy = e.mutate(copy)
    assert isinstance(copy, Room)
    return copy
