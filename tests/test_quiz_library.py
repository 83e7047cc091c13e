"""The quiz library over a real store: two servers sharing one store, and pictures the store must hold."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from eventstore import EventStore
from quiz_actors.clock import ManualClock
from quiz_actors.domain.quiz import QuizInvalid, QuizRefused
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
