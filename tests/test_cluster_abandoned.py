"""A room abandoned by everyone is closed exactly once, even when its lease moves (issue 19,
scenario 7): three real nodes in cluster mode on one PostgreSQL schema, with a room's idle
time and the sweep shortened to seconds. Clients reach a room's owner directly (a redirect
is followed to the named node's own address, as HAProxy would route it)."""

from __future__ import annotations

import asyncio
import re
import signal
import time

import psycopg
import pytest

from tests.cluster_nodes import LEASE_TTL_S, Cluster, connect, enter
from tests.conftest import DEMO_QUIZ, POSTGRES_URL, create_room

pytestmark = pytest.mark.postgres

IDLE_S = 3.0  # a room nobody is in closes this long after the last one left
SWEEP_S = 0.5
ROOM_CLOSED = "quiz_actors.domain.room:Room.RoomClosed"
TAKEN_OVER = "quiz_actors.domain.room:Room.RoomTakenOver"
CODE_RELEASED = "quiz_actors.domain.directory:RoomDirectory.CodeReleased"


@pytest.fixture
async def nodes(schema, http, tmp_path):
    store, _ = schema
    cluster = Cluster(
        store,
        "--idle-room-ttl-s",
        str(IDLE_S),
        "--unjoined-room-ttl-s",
        str(IDLE_S),
        "--sweep-interval-s",
        str(SWEEP_S),
        log_dir=tmp_path,
    )
    async with cluster.running(http):
        yield cluster


def events_of(schema: str, room_id: str, topic: str) -> int:
    with psycopg.connect(POSTGRES_URL) as conn:
        row = conn.execute(
            f"SELECT count(*) FROM {schema}.quiz_events WHERE originator_id = %s AND topic = %s",
            (room_id, topic),
        ).fetchone()
    assert row is not None
    return int(row[0])


def codes_released(schema: str, code: str) -> int:
    with psycopg.connect(POSTGRES_URL) as conn:
        rows = conn.execute(
            f"SELECT state FROM {schema}.quiz_events WHERE topic = %s", (CODE_RELEASED,)
        ).fetchall()
    return sum(1 for (state,) in rows if f'"{code}"'.encode() in bytes(state))


def closings_logged(nodes: Cluster, code: str) -> dict[str, int]:
    """How many times each node says it closed the room (the room actor logs each closing)."""
    pattern = re.compile(rf"room {code} \(\S+\) closed: abandoned")
    return {
        name: len(pattern.findall((nodes.log_dir / f"{name}.log").read_text(errors="replace")))
        for name in nodes.names
    }


async def until_closed(schema: str, room_id: str, within_s: float) -> float:
    """Seconds until the room's RoomClosed is in the store."""
    started = time.monotonic()
    while events_of(schema, room_id, ROOM_CLOSED) == 0:
        assert time.monotonic() - started < within_s, f"room {room_id} not closed within {within_s} s"
        await asyncio.sleep(0.1)
    return time.monotonic() - started


async def abandon(http, nodes: Cluster, creator: str) -> tuple[str, str, str]:
    """A room created on ``creator``, joined by a player, then left by both.
    Returns its code, its id and the node that serves it."""
    host = await connect(http, nodes.ws(creator))
    code, state = await create_room(host, DEMO_QUIZ)
    room_id = state["room"]["room_id"]
    other = next(name for name in nodes.names if name != creator)
    player, _, redirects, owner = await enter(http, nodes.ws(other), code, "Ann", nodes=nodes)
    assert (redirects, owner) == (1, creator)  # served by its creator, and only there
    for client in (player, host):
        await client.send({"type": "leave"})
        await client.expect("left")
        await client.close()
    return code, room_id, creator


async def test_a_room_abandoned_by_everyone_is_closed_once_by_its_owner(nodes, http, schema):
    code, room_id, owner = await abandon(http, nodes, "node2")
    took = await until_closed(schema[1], room_id, within_s=IDLE_S + 15)
    print(f"abandoned room closed {took:.2f} s after everyone left (idle time {IDLE_S} s)")
    await asyncio.sleep(6 * SWEEP_S)  # every node sweeps several times more
    assert events_of(schema[1], room_id, ROOM_CLOSED) == 1
    assert events_of(schema[1], room_id, TAKEN_OVER) == 0  # its lease never moved
    assert codes_released(schema[1], code) == 1
    assert closings_logged(nodes, code) == {name: int(name == owner) for name in nodes.names}


async def test_an_abandoned_room_whose_owner_dies_is_closed_once_by_the_node_that_takes_its_lease(
    nodes, http, schema
):
    code, room_id, owner = await abandon(http, nodes, "node1")
    # The owner dies with the room's cleanup armed: its lease runs out (TTL 2 s) before the
    # room is due (3 s), and the other nodes' sweeps race for it.
    nodes.signal(owner, signal.SIGKILL)
    nodes.processes[owner].wait(timeout=10)
    took = await until_closed(schema[1], room_id, within_s=IDLE_S + LEASE_TTL_S + 15)
    print(f"abandoned room closed {took:.2f} s after its owner was killed")
    await asyncio.sleep(6 * SWEEP_S)
    assert events_of(schema[1], room_id, ROOM_CLOSED) == 1
    assert events_of(schema[1], room_id, TAKEN_OVER) == 1  # one node took it over, once
    assert codes_released(schema[1], code) == 1
    closings = closings_logged(nodes, code)
    assert closings[owner] == 0 and sum(closings.values()) == 1, closings
    # The node that closed it is the one whose takeover is stored.
    closer = next(name for name, count in closings.items() if count == 1)
    with psycopg.connect(POSTGRES_URL) as conn:
        (state,) = conn.execute(
            f"SELECT state FROM {schema[1]}.quiz_events WHERE originator_id = %s AND topic = %s",
            (room_id, TAKEN_OVER),
        ).fetchone()
    assert f'"{closer}"'.encode() in bytes(state)
