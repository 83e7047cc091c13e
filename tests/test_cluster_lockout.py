"""The shared code-guessing lockout counts wrong codes only (issue 19, scenario 8): joins that
are redirected to a room's owner, that reach a node whose directory has not seen the room
yet, or that wait for a dead owner's lease are not guesses. Three real nodes in cluster
mode; every client here speaks from one address (a school behind one NAT) through the
nodes' trusted-proxy header."""

from __future__ import annotations

import asyncio
import signal

import pytest
from psycopg import sql

from quiz_actors.cluster.database import ClusterDatabase
from quiz_actors.cluster.lockout import SharedJoinGuard
from quiz_actors.cluster.schema import open_store
from tests.client import QuizClient
from tests.cluster_nodes import LEASE_TTL_S, Cluster, connect
from tests.conftest import DEMO_QUIZ, create_room

pytestmark = pytest.mark.postgres

SCHOOL = {"X-Forwarded-For": "198.51.100.23"}
FAILED_JOINS = 10  # QUIZ_FAILED_JOINS_PER_IP's default: the lockout starts at the 10th wrong code


@pytest.fixture
async def nodes(schema, http, tmp_path):
    store, _ = schema
    cluster = Cluster(store, log_dir=tmp_path)
    async with cluster.running(http):
        yield cluster


async def join_from_school(
    http, url: str, code: str, name: str, token: str | None = None, seat: str | None = None
) -> dict:
    """One join from the school's address on ``url``: the reply (state, redirect or error)."""
    client = QuizClient(http, url)
    await client.connect(headers=SCHOOL)
    await client.hello(token)
    join = {"type": "join", "code": code, "name": name, "ref": "j"}
    await client.send(join if seat is None else {**join, "seat": seat})
    reply = await client.expect_one_of("state", "redirect", "error", timeout=30)
    reply["token"] = client.token
    await client.close()
    return reply


async def test_only_wrong_codes_count_towards_the_shared_lockout(nodes, http):
    hosts = {name: await connect(http, nodes.ws(name)) for name in ("node1", "node2")}
    codes = {name: (await create_room(host, DEMO_QUIZ))[0] for name, host in hosts.items()}
    wrong = [c for c in (f"{n:06d}" for n in range(20)) if c not in codes.values()]
    # One short of a lockout, spread over the nodes.
    for n, guess in enumerate(wrong[: FAILED_JOINS - 1]):
        reply = await join_from_school(http, nodes.ws(nodes.names[n % 3]), guess, "Bot")
        assert reply["code"] == "room_not_found", reply
    # Many more joins that are not guesses: node3 has not read the directory since both rooms
    # were created, and sends each join to the room's owner; node1 sends node2's joins there.
    tokens = []
    for n in range(2 * FAILED_JOINS):
        owner = ("node1", "node2")[n % 2]
        via = "node3" if n < FAILED_JOINS else {"node1": "node2", "node2": "node1"}[owner]
        reply = await join_from_school(http, nodes.ws(via), codes[owner], f"Kid {n}")
        assert reply["type"] == "redirect" and reply["node"] == owner, reply
        reply = await join_from_school(
            http,
            f"{nodes.ws(owner)}?room={codes[owner]}&node={owner}",
            codes[owner],
            f"Kid {n}",
            reply["token"],
        )
        assert reply["type"] == "state", reply
        tokens.append((owner, reply["token"]))
    # node1 dies: its room's players come back on node3 with the dead node's hint and wait
    # there for the lease to run out; node3 then takes the room over and serves them.
    nodes.signal("node1", signal.SIGKILL)
    node1_players = [token for owner, token in tokens if owner == "node1"][:3]
    hinted = f"{nodes.ws('node3')}?room={codes['node1']}&node=node1"
    back = await asyncio.gather(
        *(join_from_school(http, hinted, codes["node1"], "Back", token) for token in node1_players)
    )
    assert [reply["type"] for reply in back] == ["state"] * 3, back
    # None of that counted: the school still joins, and only its 10th wrong code locks it out.
    reply = await join_from_school(http, nodes.ws("node2"), codes["node2"], "Late kid")
    assert reply["type"] == "state", reply
    reply = await join_from_school(http, nodes.ws("node3"), wrong[FAILED_JOINS - 1], "Bot")
    assert reply["code"] == "room_not_found", reply
    reply = await join_from_school(http, nodes.ws("node2"), codes["node2"], "Locked out")
    assert reply["code"] == "rate_limited" and "wrong room codes" in reply["message"], reply
    for host in hosts.values():
        await host.close()


async def test_joins_around_a_lobby_whose_owner_froze_past_its_lease_are_not_guesses(nodes, http):
    """A slow owner: its lobby's lease lapses while joins keep coming, on the other nodes (with
    and without the frozen owner's hint, before and after another node takes the room over) and
    on the owner itself once it thaws, with a directory that never saw the room move. Not one
    of them is a wrong code: the school is still one short of a lockout afterwards."""
    host = await connect(http, nodes.ws("node1"))
    code, _ = await create_room(host, DEMO_QUIZ)
    wrong = [c for c in (f"{n:06d}" for n in range(20)) if c != code]
    for n, guess in enumerate(wrong[: FAILED_JOINS - 1]):
        reply = await join_from_school(http, nodes.ws(nodes.names[n % 3]), guess, "Bot")
        assert reply["code"] == "room_not_found", reply
    plain = [nodes.ws(name) for name in ("node2", "node3")]
    hinted = [f"{url}?room={code}&node=node1" for url in plain]
    nodes.signal("node1", signal.SIGSTOP)
    try:
        frozen = [
            asyncio.create_task(join_from_school(http, url, code, f"Early kid {n}"))
            for n, url in enumerate(plain + hinted)
        ]
        await asyncio.sleep(LEASE_TTL_S + 0.5)  # node1's lease has run out: the room is anyone's
        lapsed = [
            asyncio.create_task(join_from_school(http, url, code, f"Late kid {n}"))
            for n, url in enumerate(plain + hinted)
        ]
        await asyncio.sleep(LEASE_TTL_S)
    finally:
        nodes.signal("node1", signal.SIGCONT)
    replies = await asyncio.gather(*frozen, *lapsed)
    replies += [await join_from_school(http, nodes.ws("node1"), code, f"Thawed kid {n}") for n in range(3)]
    assert {reply["type"] for reply in replies} <= {"state", "redirect"}, replies
    assert any(reply["type"] == "state" for reply in replies), replies  # the room moved and served joins
    reply = await join_from_school(http, nodes.ws("node3"), wrong[FAILED_JOINS - 1], "Bot")
    assert reply["code"] == "room_not_found", reply
    reply = await join_from_school(http, nodes.ws("node2"), code, "Locked out")
    assert reply["code"] == "rate_limited" and "wrong room codes" in reply["message"], reply
    await host.close()


async def test_a_wrong_code_counts_once_on_every_node_and_members_come_back(nodes, http):
    """The school's phones try one stale code again and again, on every node: it is one
    wrong code. Once different wrong codes lock the school out, newcomers are refused on
    every node the same way, live code or not, while a player of node1's room comes back
    with its seat through any node: node2 redirects it (a member already knows the code
    is live) and node1 lets it in."""
    host = await connect(http, nodes.ws("node1"))
    code, _ = await create_room(host, DEMO_QUIZ)
    reply = await join_from_school(http, f"{nodes.ws('node1')}?room={code}", code, "Ada")
    assert reply["type"] == "state", reply
    ada, seat = reply["token"], reply["you"]["seat"]
    wrong = [c for c in (f"{n:06d}" for n in range(40)) if c != code]
    for round_ in range(3):
        for name in nodes.names:
            reply = await join_from_school(http, nodes.ws(name), wrong[0], f"Stale {round_}")
            assert reply["code"] == "room_not_found", reply
    reply = await join_from_school(http, f"{nodes.ws('node1')}?room={code}", code, "Bo")
    assert reply["type"] == "state", reply  # nine tries of one code: not locked out
    for n, guess in enumerate(wrong[1:FAILED_JOINS]):
        reply = await join_from_school(http, nodes.ws(nodes.names[n % 3]), guess, "Bot")
        assert reply["code"] == "room_not_found", reply
    refusals = [await join_from_school(http, nodes.ws(name), code, "Newcomer") for name in nodes.names]
    refusals.append(await join_from_school(http, nodes.ws("node2"), wrong[FAILED_JOINS], "Bot"))
    refusals.append(await join_from_school(http, nodes.ws("node2"), code, "Thief", None, seat))  # not his
    assert {(r["type"], r.get("code"), r.get("reason")) for r in refusals} == {
        ("error", "rate_limited", "wrong_codes")
    }, refusals
    assert len({r["message"] for r in refusals}) == 1 and "wrong room codes" in refusals[0]["message"]
    reply = await join_from_school(http, nodes.ws("node2"), code, "Ada", ada, seat)
    assert reply["type"] == "redirect" and reply["node"] == "node1", reply
    reply = await join_from_school(
        http, f"{nodes.ws('node1')}?room={code}&node=node1", code, "Ada", ada, seat
    )
    assert reply["type"] == "state", reply
    names = {member["user_id"]: member["name"] for member in reply["room"]["members"]}
    assert names[reply["you"]["user_id"]] == "Ada", reply
    await host.close()


def test_the_shared_guard_counts_codes_and_an_earlier_release_table_is_replaced(schema):
    """The wrong codes' table on PostgreSQL, under the guard every node applies. A schema
    an earlier release made (every try a row of ``cluster_join_failures``) gets the new
    table when a node of this release starts."""
    store_url, name = schema
    database = ClusterDatabase(store_url)
    try:
        open_store(database, store_url).close()
        database.execute(sql.SQL(f"DROP TABLE {name}.cluster_wrong_codes"))
        database.execute(
            sql.SQL(
                f"CREATE TABLE {name}.cluster_join_failures (address text NOT NULL, at timestamptz NOT NULL)"
            )
        )
        open_store(database, store_url).close()  # this release's node starts on it
        tables = database.execute(
            sql.SQL("SELECT table_name FROM information_schema.tables WHERE table_schema = %s"), (name,)
        )
        # The earlier table stays: nodes of that release may still be running, and count in it.
        assert {"cluster_wrong_codes", "cluster_lockouts", "cluster_join_failures"} <= {t for (t,) in tables}

        guard = SharedJoinGuard(database, 300, 3, 60_000, 30)
        school = "198.51.100.23"
        assert [guard.failed(school, 0, "000001") for _ in range(5)] == [False] * 5
        assert guard.failed(school, 0, "000002") is False
        assert guard.check(school, 0) is None
        # A code last tried over a minute ago counts again, as a new one.
        database.execute(sql.SQL(f"UPDATE {name}.cluster_wrong_codes SET at = now() - interval '2 minutes'"))
        assert guard.failed(school, 0, "000001") is False  # the only one within the minute
        assert guard.failed(school, 0, "000002") is False
        assert guard.failed(school, 0, "000003") is True  # the third different one
        refusal = guard.check(school, 0)
        assert refusal is not None and refusal.reason == "wrong_codes" and 59 <= refusal.retry_after_s <= 60
        assert guard.check("203.0.113.9", 0) is None  # another address
    finally:
        database.close()
