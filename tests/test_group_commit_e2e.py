"""A burst of answers is stored in bounded commits, and every acknowledged answer is stored.

The room group-commits answers (``quiz_actors/actors/room/saving.py``): those
already in its mailbox share one commit. Bounded by ``group_commit_max``, a
burst bigger than the bound is stored in several commits, so the first answers
are acknowledged while later ones are still being decided. The commits are
counted around ``EventStore.save``, as ``scripts/bench_probe.py`` does.

To make the burst certain rather than likely, the first commit that carries an
answer waits until every other answer has reached the room's mailbox; without
the bound, all of those would then be stored in one commit.
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import pykka
import pytest

from eventstore import EventStore
from quiz_actors.actors.room.actor import RoomActor
from quiz_actors.actors.room.game import Game
from quiz_actors.domain.room import Room
from quiz_actors.settings import Settings
from tests.client import QuizClient
from tests.conftest import RunningServer, create_room, join, upload_quiz

BOUND = 4
ANSWERING = 3 * BOUND + 1  # more than three commits' worth
GATHER_TIMEOUT_S = 10.0


class SaveWatch:
    """Wraps EventStore.save: the answers of each commit, in order, recorded once it has
    returned; the first commit carrying an answer waits until the rest are in the mailbox."""

    def __init__(self, answering: int) -> None:
        self.answering = answering
        self.commits: list[list[str]] = []  # the answering user ids of each commit with answers
        self.stored: set[str] = set()
        self.first_commit_gathered: bool | None = None
        self._lock = threading.Lock()

    def wrap(self, original: Callable[..., Any]) -> Callable[..., Any]:
        def save(store: EventStore, *objs: Any, **kwargs: Any) -> Any:
            answered = [
                event.user_id
                for obj in objs
                for event in getattr(obj, "pending_events", ())
                if isinstance(event, Room.AnswerSubmitted)
            ]
            if answered and self.first_commit_gathered is None:
                self.first_commit_gathered = self._wait_for_the_rest(len(answered))
            result = original(store, *objs, **kwargs)
            if answered:
                with self._lock:
                    self.commits.append(answered)
                    self.stored.update(answered)
            return result

        return save

    def _wait_for_the_rest(self, in_this_commit: int) -> bool:
        """Runs on the room's thread, so the room decides nothing meanwhile."""
        (room,) = pykka.ActorRegistry.get_by_class(RoomActor)
        inbox = room.actor_inbox  # a PooledInbox; qsize() as queue.Queue has it
        deadline = time.monotonic() + GATHER_TIMEOUT_S
        while in_this_commit + inbox.qsize() < self.answering:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.001)  # polls the mailbox's length: nothing to wait on for it
        return True


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # Only the count bounds a commit here: the time bound would merely split it further.
    return dataclasses.replace(settings, group_commit_max=BOUND, group_commit_max_wait_s=60.0)


@pytest.fixture
def watch(monkeypatch: pytest.MonkeyPatch) -> SaveWatch:
    watch = SaveWatch(ANSWERING)
    monkeypatch.setattr(EventStore, "save", watch.wrap(EventStore.save))
    return watch


async def test_a_burst_bigger_than_the_bound_is_stored_in_bounded_commits(
    watch: SaveWatch,
    connect: Callable[[], Awaitable[QuizClient]],
    http: aiohttp.ClientSession,
    server: RunningServer,
    settings: Settings,
) -> None:
    quiz_id = await upload_quiz(http, server)
    host = await connect()
    code, state = await create_room(host, quiz_id, "Host")
    players = [await connect() for _ in range(ANSWERING + 1)]
    for i, player in enumerate(players):
        await join(player, code, f"P{i}")
    answering, silent = players[:ANSWERING], players[ANSWERING]  # the silent one keeps the question open
    await host.send({"type": "start"})
    for player in players:
        await player.expect("question_shown", index=0)

    await asyncio.gather(*(p.send({"type": "answer", "question": 0, "choice": 1}) for p in answering))
    for player in answering:
        accepted = await player.expect("answer_accepted", question=0)
        assert accepted["question"] == 0
        assert player.user_id in watch.stored, "acknowledged before its commit"

    assert watch.first_commit_gathered, "the other answers never reached the room's mailbox"
    sizes = [len(commit) for commit in watch.commits]
    assert sum(sizes) == ANSWERING
    assert max(sizes) <= BOUND, sizes
    assert len(sizes) >= math.ceil(ANSWERING / BOUND)
    assert silent.of_type("answer_accepted") == []

    await server.stop()
    store = EventStore(settings.store)
    try:
        room = store.load(uuid.UUID(state["room"]["room_id"]))
        assert set(room.answers()) == {p.user_id for p in answering}
    finally:
        store.close()


async def test_an_answer_whose_handler_fails_after_deciding_is_still_saved_and_acknowledged(
    monkeypatch: pytest.MonkeyPatch,
    connect: Callable[[], Awaitable[QuizClient]],
    http: aiohttp.ClientSession,
    server: RunningServer,
    settings: Settings,
) -> None:
    """An answer that comes alone is saved once its own message is handled (nothing is
    queued to share its commit). A handler that fails after deciding (a bug) must not
    leave that decision waiting for another message: the player hears the error and
    the acknowledgement, and the store holds the answer."""
    decide = Game.on_answer

    def decide_then_fail(game: Game, room: Any, command: Any, ref: Any) -> None:
        decide(game, room, command, ref)
        raise RuntimeError("a bug after the decision")

    monkeypatch.setattr(Game, "on_answer", decide_then_fail)
    quiz_id = await upload_quiz(http, server)
    host = await connect()
    code, state = await create_room(host, quiz_id, "Host")
    player, other = await connect(), await connect()
    await join(player, code, "Ann")
    await join(other, code, "Bob")  # keeps the question open
    await host.send({"type": "start"})
    await player.expect("question_shown", index=0)

    await player.send({"type": "answer", "question": 0, "choice": 1, "ref": "a1"})
    failed = await player.expect("error", code="internal")
    assert "ref" not in failed  # not a refusal: part of the command may be stored
    accepted = await player.expect("answer_accepted", question=0)
    assert accepted["ref"] == "a1"

    await server.stop()
    store = EventStore(settings.store)
    try:
        room = store.load(uuid.UUID(state["room"]["room_id"]))
        assert set(room.answers()) == {player.user_id}
    finally:
        store.close()
