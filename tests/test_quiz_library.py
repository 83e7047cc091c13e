"""The quiz library over a real store (two servers sharing one store, pictures the store must hold),
and snapshots taken before quizzes had revisions."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from eventsourcing.domain import Snapshot

from eventstore import EventStore
from quiz_actors.clock import ManualClock
from quiz_actors.domain.quiz import QuizCatalog, QuizInvalid, QuizRefused
from quiz_actors.domain.room import Room
from quiz_actors.quizzes import QuizLibrary

QUIZ = {"title": "Shared", "questions": [{"text": "Q?", "choices": ["a", "b"], "correct": [0]}]}
PICTURE, MISSING = "ab" * 32, "cd" * 32


@pytest.fixture
def stores(store_url: str) -> Iterator[tuple[EventStore, EventStore]]:
    first, second = EventStore(store_url), EventStore(store_url)
    yield first, second
    first.close()
    second.close()


def test_two_servers_on_one_store_see_each_others_quizzes_and_revisions(stores):
    clock = ManualClock()
    here, there = (QuizLibrary(store, clock.now_ms) for store in stores)
    mine = here.upload(QUIZ)
    assert [q["quiz_id"] for q in here.list()] == [mine["quiz_id"]]  # kept in memory from now on

    clock.advance(1000)
    theirs = there.upload({**QUIZ, "title": "Theirs"})
    assert [q["title"] for q in here.list()] == ["Theirs", "Shared"]

    # A revision stored there makes this server's copy stale: refused here, as from a stale editor.
    there.revise(mine["quiz_id"], {**QUIZ, "title": "Revised there"}, expected_revision=1)
    with pytest.raises(QuizRefused) as refused:
        here.revise(mine["quiz_id"], {**QUIZ, "title": "Revised here"}, expected_revision=1)
    assert refused.value.code == "quiz_changed"
    assert (
        here.revise(mine["quiz_id"], {**QUIZ, "title": "Revised here"}, expected_revision=2)["revision"] == 3
    )

    # And this server's changes reach the other one's list.
    here.archive(theirs["quiz_id"])
    assert [q["title"] for q in there.list()] == ["Revised here"]
    assert [q["title"] for q in there.list(archived=True)] == ["Theirs"]


def test_a_picture_must_be_one_the_store_holds_when_the_library_can_tell(stores):
    store = stores[0]
    with_picture = {**QUIZ, "questions": [{**QUIZ["questions"][0], "image": PICTURE}]}
    with_missing = {**QUIZ, "questions": [{**QUIZ["questions"][0], "image": MISSING}]}
    library = QuizLibrary(store, ManualClock().now_ms, media_exists=lambda media_id: media_id == PICTURE)
    assert library.problems(with_picture) == []
    problems = library.problems(with_missing)
    assert [(p.path, p.message) for p in problems] == [
        ("questions[0].image", "This picture is not on the server: upload it again")
    ]
    with pytest.raises(QuizInvalid):
        library.upload(with_missing)
    assert library.list() == []
    # Without a media library, only the form of the id is checked.
    assert QuizLibrary(store, ManualClock().now_ms).problems(with_missing) == []


# ------------------------------------------------------------------ snapshots from before revisions


def test_a_room_snapshot_from_before_quiz_revisions_loads_as_revision_1():
    room = Room.open(
        code="123456", quiz_id="q", quiz=QUIZ, host_id="h", host_name="Host", at=1, quiz_revision=4
    )
    taken = Snapshot.take(room)
    old_state = {k: v for k, v in taken.state.items() if k != "quiz_revision"} | {"class_version": 2}
    old = dataclasses.replace(taken, state=old_state)
    loaded = old.mutate(None)
    assert isinstance(loaded, Room) and loaded.quiz_revision == 1 and loaded.quiz == QUIZ
    assert dataclasses.replace(taken).mutate(None).quiz_revision == 4  # today's snapshot keeps its revision


def test_a_catalog_snapshot_from_before_revisions_lists_each_quiz_as_revision_1():
    catalog = QuizCatalog()
    catalog.list_quiz(quiz_id="q1", title="Old", question_count=2, description="", revision=1, updated_at=5)
    taken = Snapshot.take(catalog)
    when = datetime(2025, 11, 24, 16, 0, tzinfo=UTC)
    old_entries = {"q1": {"quiz_id": "q1", "title": "Old", "question_count": 2}}
    old_state = {k: v for k, v in taken.state.items() if k != "class_version"}
    old_state |= {"entries": old_entries, "_modified_on": when}
    loaded = dataclasses.replace(taken, state=old_state).mutate(None)
    assert isinstance(loaded, QuizCatalog)
    assert loaded.entries["q1"] == {
        "quiz_id": "q1",
        "title": "Old",
        "question_count": 2,
        "description": "",
        "revision": 1,
        "updated_at": int(when.timestamp() * 1000),
        "archived": False,
    }
