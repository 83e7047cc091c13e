"""The Room aggregate: rules, and replay reproducing the live state."""

from __future__ import annotations

import dataclasses

import pytest
from eventsourcing.domain import Snapshot
from hypothesis import given, settings
from hypothesis import strategies as st

from eventstore.replay import check
from quiz_actors.domain.errors import RoomError
from quiz_actors.domain.room import Room
from quiz_actors.tools.room_rules import RoomRules

QUIZ = {
    "title": "T",
    "questions": [
        {"text": "Q1", "choices": ["a", "b", "c"], "correct": [1], "time_limit_s": 20, "points": "standard"},
        {"text": "Q2", "choices": ["a", "b"], "correct": [0], "time_limit_s": 10, "points": "double"},
    ],
}
T0 = 1_000_000


def new_room() -> Room:
    return Room.open(code="123456", quiz_id="q", quiz=QUIZ, host_id="host", host_name="Host", at=T0)


def replayed(room: Room) -> Room:
    """Rebuild a room from its events alone, as the store does."""
    events = room.collect_events()
    copy = None
    for e in events:
        copy = e.mutate(copy)
    return copy


def public_state(room: Room) -> dict:
    return {k: v for k, v in vars(room).items() if not k.startswith("_") or k in ("_version",)}


def test_replaying_a_finished_game_reproduces_its_state():
    room = new_room()
    room.join("ann", "Ann", T0 + 1, 100)
    room.join("ben", "Ben", T0 + 2, 100)
    room.start("host", T0 + 10)
    room.answer("ann", 0, 1, T0 + 10)
    room.answer("ben", 0, 0, T0 + 5_000)
    room.close_question("all_answered", T0 + 5_000)
    room.go_offline("ben", "disconnected", T0 + 6_000)
    room.next("host", T0 + 7_000)
    room.answer("ann", 1, 0, T0 + 9_000)
    room.close_question("timeout", T0 + 17_000)
    room.next("host", T0 + 18_000)
    assert room.phase == "ended"
    assert room.ranking()[0] == {"rank": 1, "user_id": "ann", "name": "Ann", "score": 1000 + 1800 + 100}
    live = public_state(room)
    assert public_state(replayed(room)) == live


def test_ties_rank_by_who_reached_the_score_first():
    room = new_room()
    for user in ("ann", "ben", "cat"):
        room.join(user, user.title(), T0, 100)
    room.start("host", T0)
    room.answer("cat", 0, 1, T0 + 100)  # both full points, Cat first
    room.answer("ben", 0, 1, T0 + 200)
    room.close_question("all_answered", T0 + 300)
    names = [r["user_id"] for r in room.ranking()]
    assert names == ["cat", "ben", "ann"]


def test_scores_stay_hidden_until_the_question_closes():
    room = new_room()
    room.join("ann", "Ann", T0, 100)
    room.start("host", T0)
    room.answer("ann", 0, 1, T0 + 1)
    assert room.members["ann"]["score"] == 0
    room.close_question("timeout", T0 + 20_000)
    assert room.members["ann"]["score"] == 1000


def test_rejoin_never_duplicates_or_resets():
    room = new_room()
    room.join("ann", "Ann", T0, 100)
    room.start("host", T0)
    room.answer("ann", 0, 1, T0)
    room.close_question("timeout", T0 + 20_000)
    room.go_offline("ann", "timeout", T0 + 21_000)
    assert room.join("ann", "Other name", T0 + 22_000, 100) == "rejoined"
    assert list(room.members) == ["host", "ann"]
    assert room.members["ann"]["score"] == 1000 and room.members["ann"]["name"] == "Ann"


def test_seq_counts_only_room_wide_changes():
    room = new_room()
    assert room.seq == 1
    room.join("ann", "Ann", T0, 100)
    room.start("host", T0)  # QuizStarted (quiet) + QuestionShown
    assert room.seq == 3
    room.answer("ann", 0, 1, T0)  # quiet
    assert room.seq == 3


def test_room_full_and_locked():
    room = new_room()
    room.join("ann", "Ann", T0, 1)
    with pytest.raises(RoomError) as e:
        room.join("ben", "Ben", T0, 1)
    assert e.value.code == "room_full"
    room.lock("host", "host", T0)
    with pytest.raises(RoomError) as e:
        room.join("cat", "Cat", T0, 10)
    assert e.value.code == "room_locked"


def test_answer_received_after_the_deadline_is_too_late():
    room = new_room()
    room.join("ann", "Ann", T0, 100)
    room.start("host", T0)
    with pytest.raises(RoomError) as e:
        room.answer("ann", 0, 1, T0 + 20_001)
    assert e.value.code == "too_late"
    room.answer("ann", 0, 1, T0 + 20_000)


def test_cleanup_times():
    room = new_room()
    room.join("ann", "Ann", T0, 100)
    assert room.cleanup_due_at(300_000, 1_800_000) is None
    assert room.cleanup_due_at(300_000, 1_800_000, assume_nobody_online=True) == T0 + 1_800_000
    room.go_offline("ann", "disconnected", T0 + 5)
    room.go_offline("host", "disconnected", T0 + 9)
    assert room.cleanup_due_at(300_000, 1_800_000) == T0 + 9 + 1_800_000
    room.join("ann", "Ann", T0 + 10, 100)
    room.end("host", T0 + 20)
    assert room.cleanup_due_at(300_000, 1_800_000) == T0 + 20 + 300_000


commands = st.lists(
    st.tuples(
        st.sampled_from(
            [
                "join",
                "leave",
                "offline",
                "start",
                "next",
                "answer",
                "timeout",
                "kick",
                "lock",
                "unlock",
                "end",
            ]
        ),
        st.sampled_from(["host", "ann", "ben", "cat"]),
        st.integers(0, 2),
        st.integers(0, 30_000),
    ),
    max_size=40,
)


def apply_command(room: Room, kind: str, user: str, number: int, now: int) -> None:
    """Run one drawn command as that user; refusals are part of the game."""
    try:
        if kind == "join":
            room.join(user, user.title(), now, 3)
        elif kind == "leave":
            room.leave(user, now)
        elif kind == "offline":
            room.go_offline(user, "disconnected", now)
        elif kind == "answer":
            room.answer(user, number % 2, number, now)
        elif kind == "timeout":
            room.close_question("timeout", now)
        elif kind == "kick":
            room.kick("host", user, now)
        elif kind == "lock":
            room.lock(user, "host", now)
        elif kind == "unlock":
            room.unlock(user, now)
        else:
            getattr(room, kind)(user, now)
    except RoomError:
        pass


@settings(max_examples=150, deadline=None)
@given(commands)
def test_any_sequence_of_commands_replays_to_the_same_state(script):
    room = new_room()
    now = T0
    for kind, user, number, delay in script:
        now += delay
        apply_command(room, kind, user, number, now)
        # invariants that hold after every command
        assert len({m["name"].casefold() for m in room.members.values()}) == len(room.members)
        assert room.host_id in room.members
    events = room.collect_events()
    copy = None
    for e in events:
        copy = e.mutate(copy)
    assert public_state(copy) == public_state(room)
    # Whatever the commands decided, quiz-replay --check finds nothing wrong with it.
    result = check(events, RoomRules())
    assert result.ok, result.problem
    assert result.events_checked == len(events)


def test_check_names_the_tampered_event_of_a_history():
    room = new_room()
    room.join("ann", "Ann", T0, 100)
    room.start("host", T0)
    room.answer("ann", 0, 1, T0 + 10_000)
    room.close_question("all_answered", T0 + 10_000)
    events = room.collect_events()
    assert check(events, RoomRules()).ok
    answer = next(e for e in events if isinstance(e, Room.AnswerSubmitted))
    assert (answer.points, answer.streak) == (750, 1)

    tampered = [dataclasses.replace(e, points=5000) if e is answer else e for e in events]
    result = check(tampered, RoomRules())
    assert result.problem is not None
    assert (result.problem.version, result.problem.event_type) == (
        answer.originator_version,
        Room.AnswerSubmitted.__name__,
    )
    assert result.problem.message == "5000 points, streak 1; the scoring rule gives 750 points, streak 1"
    assert result.events_checked == answer.originator_version - 1

    shown = next(e for e in events if isinstance(e, Room.QuestionShown))
    later = [dataclasses.replace(e, deadline_at=e.deadline_at + 1) if e is shown else e for e in events]
    problem = check(later, RoomRules()).problem
    assert problem is not None and problem.version == shown.originator_version
    assert problem.message == "its deadline does not match the question's time limit"


@settings(max_examples=100, deadline=None)
@given(commands)
def test_the_cached_member_list_always_matches_the_room(script):
    """views.MemberList re-encodes only what events changed; it must never drift."""
    import json

    from quiz_actors import views

    room, cached, now = new_room(), views.MemberList(), T0
    for kind, user, number, delay in script:
        now += delay
        apply_command(room, kind, user, number, now)
        cached.note(room.collect_events())
        fresh = [views.member_view(m) for m in room.members.values()]
        assert json.loads(cached.encode(room)) == fresh


def walked_everyone_answered(room: Room) -> bool:
    """ "Has everyone answered?" as the room answered it before it kept a count: a walk of its members."""
    answers = room.answers()
    online = [u for u, m in room.members.items() if m["online"] and u != room.host_id]
    return room.phase == "question" and bool(answers) and all(u in answers for u in online)


def still_to_answer(room: Room) -> int:
    answers = room.answers()
    return sum(1 for u, m in room.members.items() if m["online"] and u != room.host_id and u not in answers)


@settings(max_examples=200, deadline=None)
@given(commands, st.integers(0, 40))
def test_the_count_of_players_to_answer_matches_a_walk_live_on_replay_and_from_snapshots(script, cut):
    """``Room.to_answer`` stands for a walk of the members after every commit: it must be
    exactly that walk after any history, live, replayed from its events, and loaded from a
    snapshot (of this release, or of the one before, which had no count) plus the events after it."""
    room, now = new_room(), T0
    history = list(room.collect_events())
    snapshot = None
    for step, (kind, user, number, delay) in enumerate(script):
        now += delay
        apply_command(room, kind, user, number, now)
        history += room.collect_events()
        assert room.to_answer == still_to_answer(room)
        assert room.everyone_answered() == walked_everyone_answered(room)
        if step == cut:
            snapshot = copy_of(Snapshot.take(room))  # (take() shares the room's dicts)
    if snapshot is None:
        snapshot = Snapshot.take(room)

    copy = None
    for e in history:
        copy = e.mutate(copy)
    assert public_state(copy) == public_state(room)

    later = [e for e in history if e.originator_version > snapshot.originator_version]
    as_before = dataclasses.replace(
        snapshot, state={k: v for k, v in snapshot.state.items() if k != "to_answer"} | {"class_version": 4}
    )
    stale = dataclasses.replace(snapshot, state=snapshot.state | {"to_answer": 99, "class_version": 4})
    for taken in (snapshot, as_before, stale):
        loaded = copy_of(taken).mutate(None)
        for e in later:
            loaded = e.mutate(loaded)
        assert public_state(loaded) == public_state(room)
        assert loaded.everyone_answered() == walked_everyone_answered(room)


def copy_of(snapshot: Snapshot) -> Snapshot:
    """The snapshot as the store hands it back: nothing shared with the room."""
    import copy

    return dataclasses.replace(snapshot, state=copy.deepcopy(snapshot.state))


def test_a_player_who_answered_left_and_came_back_does_not_hold_the_question_open():
    room = new_room()
    room.join("ann", "Ann", T0, 100)
    room.join("ben", "Ben", T0, 100)
    room.start("host", T0)
    room.answer("ann", 0, 1, T0 + 1_000)
    room.leave("ann", T0 + 2_000)
    room.join("ann", "Ann", T0 + 3_000, 100)
    room.go_offline("ben", "disconnected", T0 + 4_000)
    assert room.to_answer == 0 and room.everyone_answered()
    room.join("ben", "Ben", T0 + 5_000, 100)  # back online, still to answer
    assert room.to_answer == 1 and not room.everyone_answered()
    room.kick("host", "ben", T0 + 6_000)
    assert room.everyone_answered()
