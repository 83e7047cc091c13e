"""The previous release's store with question types: its answers read as choices, and play goes on.

``tests/data/previous-release.sqlite3`` was written before question types
(tests/data/README.md): its ``AnswerSubmitted`` events have no payload and no
verdict, and its quizzes' questions no ``type``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from eventstore import EventStore
from eventstore.replay import read_events
from quiz_actors.clock import ManualClock
from quiz_actors.domain.room import Room
from quiz_actors.tools.rescore import rescore
from tests.conftest import join
from tests.previous_release import (
    FACTS,
    clock_after_old_server,
    copy_of_old_store,
    rooms_in,
    token,
)


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    return copy_of_old_store(tmp_path)


@pytest.fixture
def clock() -> ManualClock:
    return clock_after_old_server()


def test_old_answers_read_as_choices_judged_as_they_were_and_each_adds_up(store_url: str) -> None:
    store = EventStore(store_url)
    try:
        played = rooms_in(store)[FACTS["codes"]["A"]]
        events = read_events(store, played.id)
        answers = [e for e in events if isinstance(e, Room.AnswerSubmitted)]
        assert len(answers) == 3 and {e.verdict for e in answers} == {"right", "wrong"}
        for e in answers:
            assert e.answer == {"choice": e.choice}
            assert e.verdict == ("right" if e.correct else "wrong")
        rescored = rescore(events)
        assert len(rescored) == len(answers) and all(r.adds_up for r in rescored), rescored
        assert played.last_result is not None and played.last_result["question_type"] == "choice"
    finally:
        store.close()


async def test_an_old_room_plays_on_as_choice_questions_and_stores_the_new_answer_event(
    connect, server, store_url: str
) -> None:  # type: ignore[no-untyped-def]
    hana = await connect(token=token("Hana"))
    await join(hana, FACTS["codes"]["B"], "Hana")
    ann = await connect(token=token("Ann"))
    await join(ann, FACTS["codes"]["B"], "Ann")
    await hana.send({"type": "start"})
    shown = await ann.expect("question_shown", index=0)
    assert (shown["question_type"], shown["points"]) == ("choice", "standard")
    wrong_type = await ann.request({"type": "answer", "question": 0, "choices": [1]}, "answer_accepted")
    assert wrong_type["code"] == "bad_answer"
    await ann.request({"type": "answer", "question": 0, "choice": 1}, "answer_accepted")
    closed = await ann.expect("question_closed", index=0)
    assert (closed["question_type"], closed["correct"], closed["distribution"]) == ("choice", [1], [0, 1, 0])
    await server.stop()
    store = EventStore(store_url)
    try:
        waiting = rooms_in(store)[FACTS["codes"]["B"]]
        new = [e for e in read_events(store, waiting.id) if isinstance(e, Room.AnswerSubmitted)]
        assert [(e.answer, e.verdict, e.points) for e in new] == [({"choice": 1}, "right", 1000)]
    finally:
        store.close()
