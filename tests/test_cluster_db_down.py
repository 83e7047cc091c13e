"""PostgreSQL down for the whole cluster (issue 19, docs/cluster.md "Failure modes"): every
node stops its rooms before their leases can expire, a join or a new room meanwhile hears
a plain `busy`, and once the database is back the players rejoin the same question with
the same deadline, every acknowledged answer stored once. Two real nodes behind a real
HAProxy, each reaching the one PostgreSQL through a forwarder the test cuts: both at once."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time

import aiohttp
import pytest

from tests.client import ConnectionClosed, QuizClient
from tests.cluster_nodes import Cluster, JoinRefused, PostgresForwarder, Proxy, answers_stored, connect, enter
from tests.conftest import create_room

pytestmark = pytest.mark.postgres

QUIZ = {
    "title": "Database down",
    "questions": [{"text": "Long one?", "choices": ["a", "b", "c"], "correct": [1], "time_limit_s": 240}],
}
NAMES = ("node1", "node2")
PLAYERS = 6  # a room
ANSWERED = 4  # of them, acknowledged before the cut


async def open_room(http, nodes: Cluster, proxy: Proxy, quiz_id: str, owner: str) -> dict:
    """A room created on ``owner`` (its host talks to it directly), players through HAProxy,
    the first question open and ANSWERED answers acknowledged. One more player talks to
    the owner past HAProxy: HAProxy cuts the proxied sockets when the node fails its
    checks, so only this one shows how the node itself closes them."""
    host = await connect(http, nodes.ws(owner))
    code, _ = await create_room(host, quiz_id)
    joined = await asyncio.gather(*(enter(http, proxy.ws, code, f"P{n}") for n in range(PLAYERS)))
    assert {node for *_, node in joined} == {owner}
    direct, *_ = await enter(http, nodes.ws(owner), code, "Direct", nodes=nodes)
    players = [client for client, *_ in joined]
    await host.send({"type": "start"})
    shown = await asyncio.gather(*(c.expect("question_shown", index=0) for c in (host, direct, *players)))
    accepted = await asyncio.gather(
        *(
            p.request({"type": "answer", "question": 0, "choice": 1}, "answer_accepted")
            for p in players[:ANSWERED]
        )
    )
    assert {a["type"] for a in accepted} == {"answer_accepted"}, accepted
    return {
        "owner": owner,
        "code": code,
        "room_id": joined[0][1]["room"]["room_id"],
        "deadline_ms": shown[0]["deadline_ms"],
        "host": host,
        "direct": direct,
        "players": players,
    }


async def heard_while_down(http, nodes: Cluster, proxy: Proxy, code: str, quiz_id: str) -> dict:
    """What a join and a new room hear while no node reaches the database, each asked of
    each node directly and through HAProxy: a reply, a close code or an HTTP status."""

    async def ask(url: str, message: dict, replies: tuple[str, ...]) -> dict | int:
        try:
            client = await connect(http, url)
        except aiohttp.WSServerHandshakeError as e:
            return e.status  # HAProxy's own answer to the upgrade
        try:
            await client.send(message)
            return await client.expect_one_of(*replies, "error", timeout=15)
        except ConnectionClosed as e:
            return e.code
        finally:
            await client.close()

    join = {"type": "join", "code": code, "name": "Late"}, ("state", "redirect")
    create = {"type": "create_room", "quiz_id": quiz_id, "name": "Host"}, ("room_created",)
    heard = {}
    for name in nodes.names:
        heard[f"join on {name}"] = await ask(nodes.ws(name) + f"?room={code}", *join)
        heard[f"create_room on {name}"] = await ask(nodes.ws(name), *create)
    heard["join through HAProxy"] = await ask(proxy.ws + f"?room={code}", *join)
    heard["create_room through HAProxy"] = await ask(proxy.ws, *create)
    return heard


async def back(http, proxy: Proxy, room: dict, client: QuizClient, deadline: float):
    """Into the room again through HAProxy as the web client does after a 1012 or a lost
    socket: its token, ``?room=CODE&node=HINT``, trying again while the socket does not
    open or the node answers ``busy`` (the database not reachable again yet)."""
    while True:
        try:
            return await enter(http, proxy.ws, room["code"], "again", client.token, room["owner"])
        except (
            TimeoutError,
            OSError,
            ConnectionClosed,
            AssertionError,
            aiohttp.ClientError,
            JoinRefused,
        ) as e:
            if isinstance(e, JoinRefused) and e.args[0].get("code") != "busy":
                raise
            if time.monotonic() > deadline:
                raise AssertionError(f"not back in the room in time: {e!r}") from e
            await asyncio.sleep(0.2)


async def test_postgresql_down_for_every_node_stops_the_rooms_and_players_resume_once_it_is_back(
    schema, http, tmp_path
):
    store, schema_name = schema
    forwarders = {name: await PostgresForwarder().start() for name in NAMES}
    stores = {name: f.url(store) for name, f in forwarders.items()}
    assert store not in stores.values()
    nodes = Cluster(store, names=NAMES, log_dir=tmp_path, stores=stores)
    proxy = Proxy(nodes, tmp_path, only=NAMES)
    try:
        proxy.start()
        nodes.start_all()
        await asyncio.gather(*(nodes.wait_ready(http, name) for name in NAMES))
        await proxy.wait_ready(http)
        async with http.post(nodes.base("node1") + "/api/quizzes", json=QUIZ) as response:
            quiz_id = (await response.json())["quiz_id"]
        rooms = [await open_room(http, nodes, proxy, quiz_id, name) for name in NAMES]

        # The database goes away for the whole cluster.
        await asyncio.gather(*(f.cut() for f in forwarders.values()))
        cut_at = time.monotonic()
        # Each node stops its rooms itself, its own sockets closed with 1012 (the lease
        # watch); HAProxy may cut the proxied ones first, its checks failing (1006).
        directs = await asyncio.gather(*(r["direct"].expect_closed(timeout=15) for r in rooms))
        closed_in = time.monotonic() - cut_at
        assert directs == [1012, 1012], directs
        proxied = [c for r in rooms for c in (r["host"], *r["players"])]
        codes = await asyncio.gather(*(c.expect_closed(timeout=15) for c in proxied))
        assert set(codes) <= {1012, 1006}, codes
        print(f"database down: every socket closed {time.monotonic() - cut_at:.2f} s after the cut")
        print(f"database down: the nodes' own sockets closed with 1012 {closed_in:.2f} s after it")
        for room in rooms:
            log = (tmp_path / f"{room['owner']}.log").read_text()
            assert (
                f"room {room['room_id']}: lease not renewed in time; stopping it before it can expire" in log
            )

        heard = await heard_while_down(http, nodes, proxy, rooms[0]["code"], quiz_id)
        print(f"database down: {heard}")
        busy = {"type": "error", "code": "busy", "message": "The server cannot reach its store; try again"}
        for name in NAMES:
            # A new room: plain words, the host tries again (it was `internal`, "Something
            # went wrong on the server", before the hub took a failed quiz read for busy).
            assert {k: heard[f"create_room on {name}"].get(k) for k in busy} == busy, heard
            # A join: the node cannot read the room's lease, so it sends the client elsewhere
            # (1012), as a node cut off alone does; the web client comes back at once.
            assert heard[f"join on {name}"] == 1012, heard
        # HAProxy, every node failing its checks (/readyz reads the store), answers the
        # upgrade itself: the web client sees a lost connection and tries again.
        assert heard["join through HAProxy"] == heard["create_room through HAProxy"] == 503, heard

        # Back: every client rejoins its room, in the same question with the same deadline.
        await asyncio.gather(*(f.start() for f in forwarders.values()))
        restored_at = time.monotonic()
        everyone = [(room, c) for room in rooms for c in (room["host"], room["direct"], *room["players"])]
        rejoined = await asyncio.gather(
            *(back(http, proxy, room, c, restored_at + 45) for room, c in everyone)
        )
        took = time.monotonic() - restored_at
        print(f"database back: every client in its room {took:.2f} s after the restore")
        for (room, _), (_, state, _, _) in zip(everyone, rejoined, strict=True):
            assert state["room"]["room_id"] == room["room_id"]
            assert state["room"]["question"]["index"] == 0
            assert state["room"]["question"]["deadline_ms"] == room["deadline_ms"]

        # Every acknowledged answer is stored once: sent again, refused; the others taken.
        clients = iter(client for client, *_ in rejoined)
        for room in rooms:
            host, direct, *players = (next(clients) for _ in range(2 + PLAYERS))
            again = await asyncio.gather(
                *(
                    p.request({"type": "answer", "question": 0, "choice": 1}, "answer_accepted")
                    for p in players[:ANSWERED]
                )
            )
            assert {a.get("code") for a in again} == {"already_answered"}, again
            rest = await asyncio.gather(
                *(
                    p.request({"type": "answer", "question": 0, "choice": 2}, "answer_accepted")
                    for p in (direct, *players[ANSWERED:])
                )
            )
            assert {a["type"] for a in rest} == {"answer_accepted"}, rest
            assert answers_stored(schema_name, room["room_id"]) == PLAYERS + 1
            checked = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "quiz_actors.tools.replay_cli",
                    room["code"],
                    "--store",
                    store,
                    "--check",
                ],
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert checked.returncode == 0, checked.stdout + checked.stderr
        for client, *_ in rejoined:
            await client.close()
    finally:
        proxy.stop()
        nodes.stop_all()
        for forwarder in forwarders.values():
            await forwarder.cut()
