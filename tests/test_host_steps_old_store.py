"""The previous release's store and the host's new steps (issue 16): its questions'
answers opened as they were shown, and its rooms play on with the leaderboard step.

``tests/data/previous-release.sqlite3`` was written before the get-ready phase:
its ``QuestionShown`` events have no ``opens_at`` and its room snapshot (class
version 1) no ``leaderboard_shown``; neither has its rooms' copy of the quiz a
``get_ready_s``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from eventstore import EventStore
from eventstore.replay import read_events
from quiz_actors.clock import ManualClock
from quiz_actors.domain.room import Room
from tests.conftest import answer, join
from tests.previous_release import FACTS, clock_after_old_server, copy_of_old_store, rooms_in, token


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    return copy_of_old_store(tmp_path)


@pytest.fixture
def clock() -> ManualClock:
    return clock_after_old_server()


def test_old_questions_opened_their_answers_as_they_were_shown(store_url: str) -> None:
    store = EventStore(store_url)
    try:
        rooms = rooms_in(store)
        shown = [
            e for e in read_events(store, rooms[FACTS["codes"]["A"]].id) if isinstance(e, Room.QuestionShown)
        ]
        assert shown, "the old store's played room showed questions"
        for e in shown:
            assert e.opens_at == e.shown_at
        waiting = rooms[FACTS["codes"]["B"]]  # loaded from its old snapshot
        assert waiting.leaderboard_shown is False and waiting.ranks_before == {}
        assert waiting.get_ready_ms() == 0
    finally:
        store.close()


async def test_an_old_room_plays_on_with_answers_open_at_once_and_the_leaderboard_step(
    connect, server, clock, store_url: str
) -> None:  # type: ignore[no-untyped-def]
    hana = await connect(token=token("Hana"))
    await join(hana, FACTS["codes"]["B"], "Hana")
    ann = await connect(token=token("Ann"))
    await join(ann, FACTS["codes"]["B"], "Ann")
    await hana.send({"type": "start"})
    shown = await ann.expect("question_shown", index=0)
    assert shown["opens_ms"] == clock.now_ms()  # the room was opened before get-ready existed
    assert (await answer(ann, 0, 1))["type"] == "answer_accepted"
    await ann.expect("question_closed", index=0)
    board = await hana.request({"type": "show_leaderboard"}, "leaderboard_shown")
    assert [(r["name"], r["rank_before"]) for r in board["top"]] == [("Ann", None)]
