"""Three real nodes in cluster mode on one PostgreSQL schema, behind a real HAProxy (issue 19).

One cluster for the whole module (starting three processes costs seconds): the
tests run in order, the fault tests last, each faulting the node that owns its
own room (drain, then freeze, then kill -9), so no node has to be restarted.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
import uuid

import psycopg
import pytest

from tests.client import ConnectionClosed, QuizClient
from tests.cluster_nodes import NODES, Cluster, Proxy, connect, enter, fresh_schema
from tests.conftest import DEMO_QUIZ, POSTGRES_URL, create_room

pytestmark = pytest.mark.postgres

LONG_QUIZ = {
    "title": "Failover",
    "questions": [
        {"text": "Long one?", "choices": ["a", "b", "c"], "correct": [1], "time_limit_s": 240},
        {"text": "Next?", "choices": ["a", "b"], "correct": [0], "time_limit_s": 240},
    ],
}


@pytest.fixture(scope="module")
def schema(postgres_problem):
    yield from fresh_schema(postgres_problem)


@pytest.fixture(scope="module")
def cluster(schema, tmp_path_factory):
    store, _ = schema
    nodes = Cluster(store, "--drain-grace-s", "1", log_dir=tmp_path_factory.mktemp("nodes"))
    proxy = Proxy(nodes, tmp_path_factory.mktemp("haproxy"))
    nodes.start_all()
    proxy.start()
    yield nodes, proxy
    proxy.stop()
    nodes.stop_all()


@pytest.fixture
async def ready(cluster, http):
    nodes, proxy = cluster
    await asyncio.gather(*(nodes.wait_ready(http, name) for name in nodes.names if nodes.processes[name].poll() is None))
    await proxy.wait_ready(http)
    return nodes, proxy


def query(schema: str, statement: str, *params) -> list[tuple]:
    with psycopg.connect(POSTGRES_URL) as conn:
        return conn.execute(statement.replace("{s}", schema), params).fetchall()


def lease_owner(schema: str, room_id: str) -> str:
    return query(schema, "SELECT node_id FROM {s}.cluster_leases WHERE room_id = %s", room_id)[0][0]


async def upload(http, nodes: Cluster, quiz: dict = LONG_QUIZ) -> str:
    async with http.post(nodes.base("node1") + "/api/quizzes", json=quiz) as response:
        assert response.status == 201, await response.text()
        return (await response.json())["quiz_id"]


async def test_sixty_rooms_created_at_once_across_three_nodes_get_sixty_codes(ready, http, schema):
    nodes, _ = ready
    hosts = [await connect(http, nodes.ws(NODES[n % 3])) for n in range(60)]
    created = await asyncio.gather(*(create_room(host, DEMO_QUIZ, f"Host {n}") for n, host in enumerate(hosts)))
    codes = [code for code, _ in created]
    assert len(set(codes)) == 60
    # The directory in the store holds each of them, once, for its own room.
    assigned = query(
        schema[1], "SELECT count(*) FROM {s}.quiz_events WHERE topic = %s",
        "quiz_actors.domain.directory:RoomDirectory.CodeAssigned",
    )[0][0]
    assert assigned == 60
    # Each room is known on every node: a player on another node is sent to its owner and joins.
    code = codes[0]  # created on node1
    player, state, redirects, node = await enter(http, nodes.ws("node2"), code, "Late", nodes=nodes)
    assert state["room"]["code"] == code
    assert redirects == 1 and node == "node1"
    for client in (*hosts, player):
        await client.close()


async def test_a_client_sent_to_the_wrong_node_is_redirected_with_a_hint_and_joins(ready, http):
    nodes, _ = ready
    host = await connect(http, nodes.ws("node3"))
    code, _ = await create_room(host, DEMO_QUIZ)
    player = await connect(http, f"{nodes.ws('node1')}?room={code}")
    await player.send({"type": "join", "code": code, "name": "Wanderer", "ref": "j"})
    redirect = await player.expect("redirect")
    assert redirect == {"type": "redirect", "url": f"/ws?room={code}&node=node3", "node": "node3", "ref": "j"}
    assert await player.expect_closed() == 4009
    _, state, _, node = await enter(http, nodes.ws("node3"), code, "Wanderer", player.token, nodes=nodes)
    assert node == "node3" and state["room"]["code"] == code and state["you"]["user_id"] == player.user_id
    await host.close()


async def test_players_joining_through_haproxy_all_land_on_the_rooms_owner(ready, http, schema):
    nodes, proxy = ready
    host = await connect(http, proxy.ws)  # no room yet: round robin
    code, _ = await create_room(host, DEMO_QUIZ)
    owner = host.ws._response.headers["X-Quiz-Node"]
    # The host's page reconnects with ?room=CODE: redirected at most once.
    _, _, host_redirects, host_node = await enter(http, proxy.ws, code, "Host", host.token)
    assert host_redirects <= 1 and host_node == owner
    players = await asyncio.gather(*(enter(http, proxy.ws, code, f"P{n}") for n in range(12)))
    assert {node for _, _, _, node in players} == {owner}
    # The hash places the room on one node: all players took the same path.
    assert len({redirects for _, _, redirects, _ in players}) == 1
    assert max(redirects for _, _, redirects, _ in players) <= 1
    for client, *_ in players:
        await client.close()


async def test_code_guessing_is_locked_out_on_every_node(ready, http):
    nodes, _ = ready
    host = await connect(http, nodes.ws("node1"))
    code, _ = await create_room(host, DEMO_QUIZ)
    guesser = {"X-Forwarded-For": "203.0.113.77"}  # the nodes believe the proxy's (loopback) header
    wrong = [f"{n:06d}" for n in range(10)]
    if code in wrong:
        wrong.remove(code)
        wrong.append("999999" if code != "999999" else "999998")
    for n, guess in enumerate(wrong):  # 10 unknown codes, spread over the three nodes
        client = QuizClient(http, nodes.ws(NODES[n % 3]))
        await client.connect(headers=guesser)
        await client.hello()
        reply = await client.request({"type": "join", "code": guess, "name": "Bot"}, "state")
        assert reply["code"] == "room_not_found", reply
        await client.close()
    for name in NODES:  # now even the right code is refused, on every node
        client = QuizClient(http, nodes.ws(name))
        await client.connect(headers=guesser)
        await client.hello()
        reply = await client.request({"type": "join", "code": code, "name": "Bot"}, "state")
        assert reply["code"] == "rate_limited" and "wrong room codes" in reply["message"], reply
        await client.close()
    # Another address is not locked out.
    _, state, _, _ = await enter(http, nodes.ws("node1"), code, "Honest", nodes=nodes)
    assert state["type"] == "state"
    await host.close()
