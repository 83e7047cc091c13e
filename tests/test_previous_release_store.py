"""A store written by an earlier release keeps loading, and play goes on in it.

``tests/data/previous-release.sqlite3`` was written by the server at commit
098595e (tests/data/README.md says how). Each test works on a copy. When event
classes change, these tests say whether old events still replay (upcast them
if not: stored topics never change).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
import pytest

from eventstore import EventStore
from eventstore.replay import check, read_events, replay
from quiz_actors.clock import ManualClock
from quiz_actors.domain.directory import DIRECTORY_ID
from quiz_actors.domain.quiz import CATALOG_ID
from quiz_actors.domain.room import CLOSED, LOBBY, REVEAL, Room
from quiz_actors.domain.secret import SECRET_ID
from quiz_actors.tools.audit_model import AuditLog
from quiz_actors.tools.room_rules import RoomRules
from tests.client import QuizClient
from tests.conftest import RunningServer, create_room, join
from tests.previous_release import (
    FACTS,
    clock_after_old_server,
    copy_of_old_store,
    rooms_in,
    token,
    user,
)

QUIZ_TITLE = "Before the upgrade"


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    return copy_of_old_store(tmp_path)


@pytest.fixture
def clock() -> ManualClock:
    return clock_after_old_server()


def scores(room: Room) -> dict[str, int]:
    return {m["name"]: m["score"] for m in room.members.values()}


def test_every_room_of_the_old_store_replays_to_its_state(store_url: str) -> None:
    store = EventStore(store_url)
    try:
        rooms = rooms_in(store)
        assert sorted(rooms) == sorted(FACTS["codes"].values())
        played, waiting = rooms[FACTS["codes"]["A"]], rooms[FACTS["codes"]["B"]]

        assert played.phase == CLOSED and played.closed_reason == "inactive"
        assert scores(played) == {"Host": 0, "Ann": 1000 + 1800 + 100, "Ben": 0}
        assert [r["name"] for r in played.ranking()] == ["Ann", "Ben"]
        assert set(played.departed) == {user("Cat")} and set(played.kicked) == {user("Eve")}
        assert played.question_index == 1 and played.last_result is not None
        # Rooms of the release before quiz revisions played revision 1.
        assert played.quiz_revision == 1 and waiting.quiz_revision == 1
        assert played.last_result["distribution"] == [0, 1]

        assert waiting.phase == LOBBY and not waiting.locked
        assert scores(waiting) == {"Hana": 0, "Ann": 0, "Dan": 0}
        assert waiting.host_id == user("Hana") and waiting.version == 1 + 2 + 2 * 260

        # The waiting room was loaded from the old snapshot; from its events alone it is the same room.
        assert store.snapshots is not None and list(store.snapshots.get(waiting.id))
        for room in (played, waiting):
            events = read_events(store, room.id)
            assert vars(list(replay(events))[-1].aggregate) == vars(room)
            assert check(events, RoomRules()).ok, check(events, RoomRules()).problem

        assert store.load(DIRECTORY_ID).open_rooms == {FACTS["codes"]["B"]: str(waiting.id)}
        assert QUIZ_TITLE in [e["title"] for e in store.load(CATALOG_ID).entries.values()]
        assert len(store.load(SECRET_ID).secret_hex) >= 32

        # The audit read model projects every old event, each room's rows under its code.
        log = AuditLog(store_url)
        try:
            assert log.catch_up() == store.max_notification_id()
            rows = log.room_rows(str(played.id))
            assert {r.code for r in rows} == {played.code}
            assert len([r for r in rows if r.aggregate_id == str(played.id)]) == played.version
        finally:
            log.close()
    finally:
        store.close()


async def test_play_goes_on_in_the_old_store_and_is_kept_after_a_restart(
    connect: Callable[..., Awaitable[QuizClient]],
    http: aiohttp.ClientSession,
    server: RunningServer,
    store_url: str,
) -> None:
    # The old sessions are still valid: the server signs with the key the old store holds.
    hana = await connect(token=token("Hana"))
    assert hana.user_id == user("Hana")
    state = await join(hana, FACTS["codes"]["B"], "Hana")
    assert state["you"]["is_host"] and state["room"]["phase"] == LOBBY
    assert {m["name"]: m["online"] for m in state["room"]["members"]} == {
        "Hana": True,
        "Ann": False,  # the old server stopped with everyone in the room
        "Dan": False,
    }
    ann = await connect(token=token("Ann"))
    await join(ann, FACTS["codes"]["B"], "Ann")
    await hana.send({"type": "start"})
    await ann.expect("question_shown", index=0)
    reply = await ann.request({"type": "answer", "question": 0, "choice": 1}, "answer_accepted")
    assert reply["type"] == "answer_accepted", reply
    closed = await ann.expect("question_closed", index=0)  # Ann was the only player online
    assert closed["you"]["score"] == 1000

    # A new room, for a quiz the old release stored, by someone who played there.
    async with http.get(server.base_url + "/api/quizzes") as response:
        quizzes = (await response.json())["quizzes"]
    quiz_id = next(q["quiz_id"] for q in quizzes if q["title"] == QUIZ_TITLE)
    host = await connect(token=token("Host"))
    code, created = await create_room(host, quiz_id, "Host")
    assert code != FACTS["codes"]["B"] and created["room"]["title"] == QUIZ_TITLE

    await server.restart()
    await server.stop()
    store = EventStore(store_url)
    try:
        rooms = rooms_in(store)
        waiting = rooms[FACTS["codes"]["B"]]
        assert waiting.phase == REVEAL and scores(waiting) == {"Hana": 0, "Ann": 1000, "Dan": 0}
        assert rooms[code].host_id == user("Host") and rooms[code].quiz_id == quiz_id
        assert store.load(DIRECTORY_ID).open_rooms == {
            FACTS["codes"]["B"]: str(waiting.id),
            code: str(rooms[code].id),
        }
        assert uuid.UUID(created["room"]["room_id"]) == rooms[code].id
    finally:
        store.close()


async def test_a_quiz_of_the_old_store_is_listed_read_revised_and_archived(
    connect: Callable[..., Awaitable[QuizClient]],
    http: aiohttp.ClientSession,
    server: RunningServer,
    store_url: str,
    clock: ManualClock,
) -> None:
    # The old catalog's entries read as revision 1, changed when the old release listed them
    # (the time its store recorded: the old server's test clock ran elsewhere).
    async with http.get(server.base_url + "/api/quizzes") as response:
        quizzes = (await response.json())["quizzes"]
    old = next(q for q in quizzes if q["title"] == QUIZ_TITLE)
    assert (old["revision"], old["description"], old["archived"]) == (1, "", False)
    assert isinstance(old["updated_at"], int) and old["updated_at"] > 0
    url = f"{server.base_url}/api/quizzes/{old['quiz_id']}"

    # The old QuizUploaded event is revision 1 of the quiz.
    async with http.get(url) as response:
        assert response.status == 200 and response.headers["ETag"] == '"1"'
        got = await response.json()
    assert got["revision"] == 1 and got["document"]["title"] == QUIZ_TITLE and not got["archived"]
    assert got["created_at"] == got["updated_at"] <= FACTS["clock_ms"]

    revised = {**got["document"], "title": QUIZ_TITLE + ", revised"}
    async with http.put(url, json=revised, headers={"If-Match": "1"}) as response:
        assert response.status == 200, await response.text()
        summary = await response.json()
    assert summary["revision"] == 2 and summary["updated_at"] == clock.now_ms()
    async with http.put(url, json=revised, headers={"If-Match": "1"}) as response:
        assert response.status == 412

    host = await connect(token=token("Host"))
    code, created = await create_room(host, old["quiz_id"], "Host")
    assert created["room"]["quiz_revision"] == 2 and created["room"]["title"] == QUIZ_TITLE + ", revised"

    async with http.delete(url) as response:
        assert response.status == 200 and (await response.json())["archived"] is True
    await server.restart()
    async with http.get(server.base_url + "/api/quizzes?archived=1") as response:
        archived = (await response.json())["quizzes"]
    assert [(q["quiz_id"], q["revision"]) for q in archived] == [(old["quiz_id"], 2)]
    await server.stop()
    store = EventStore(store_url)
    try:
        assert rooms_in(store)[code].quiz_revision == 2
        # The played room of the old release keeps its copy of the quiz as it was.
        assert rooms_in(store)[FACTS["codes"]["A"]].quiz["title"] == QUIZ_TITLE
    finally:
        store.close()
