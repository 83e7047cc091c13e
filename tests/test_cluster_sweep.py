"""A node's sweep does not hold up its hub (issue 19, the create_room that waited ~11 s).

Every sweep a node reads, for each room of the directory it does not have in memory,
the room's lease and (if nobody holds it) the room itself. Rooms nobody serves pile up
after a fault (a killed node's rooms that nobody joined again, a thawed node's), and the
hub did those reads on its own thread: with a couple of hundred rooms on a loaded
machine a sweep took seconds, and a ``create_room`` or a ``join`` on that node waited
for all of it. Two real nodes on one PostgreSQL schema; node1 reaches it through a
forwarder that delays every round trip, so that its sweep of the dead node2's rooms
takes much longer than a client waits for a reply.

And a node reads each room nobody serves once, not every sweep: what it learnt stays
good while the room's version does not move (the node's replay counter on /metrics
shows it); a room another node served meanwhile is read again, and closed when due.
"""

from __future__ import annotations

import asyncio
import re
import signal

import pytest

from tests.cluster_nodes import LEASE_TTL_S, Cluster, PostgresForwarder, connect, enter
from tests.conftest import DEMO_QUIZ, create_room, metric

pytestmark = pytest.mark.postgres

SWEEP_S = 1.0
ORPHANS = 60  # rooms nobody serves once node2 is dead
# Each way, so 0.1 s a round trip: a sweep that reads each orphan's lease and then the
# room (~3 round trips) on the hub's thread takes ~18 s, longer than the 10 s the test
# client waits for a reply (tests/client.py, DEFAULT_TIMEOUT); a create_room itself is
# a few round trips (the quiz, the lease, the save): under a second.
DELAY_S = 0.05


async def test_a_create_room_is_answered_while_the_node_sweeps_many_rooms(schema, http, tmp_path):
    store, _ = schema
    forwarder = await PostgresForwarder().start()
    through = forwarder.url(store)
    nodes = Cluster(
        store,
        "--sweep-interval-s",
        str(SWEEP_S),
        names=("node1", "node2"),
        log_dir=tmp_path,
        stores={"node1": through},
    )
    try:
        async with nodes.running(http):
            hosts = [await connect(http, nodes.ws("node2")) for _ in range(ORPHANS)]
            for host in hosts:
                await create_room(host, DEMO_QUIZ)
            # A room created on node1 reads the directory again (node2 saved it since):
            # node1 now knows node2's rooms, and sweeps them.
            first = await connect(http, nodes.ws("node1"))
            await create_room(first, DEMO_QUIZ)
            nodes.signal("node2", signal.SIGKILL)  # its rooms' leases run out: nobody serves them
            await asyncio.sleep(LEASE_TTL_S + 0.5)

            forwarder.delay_s = DELAY_S
            host = await connect(http, nodes.ws("node1"))
            await asyncio.sleep(2 * SWEEP_S)  # node1 is in the middle of a slow sweep now
            # The host gets its room before the client gives up waiting (see DELAY_S).
            code, state = await create_room(host, DEMO_QUIZ)
            assert state["room"]["code"] == code
            await host.close()
    finally:
        await forwarder.cut()


FAST_SWEEP_S = 0.5
ENDED_TTL_S = 3.0  # a room whose quiz ended closes this long after; any other, in minutes


async def rooms_replayed(http, nodes: Cluster, name: str) -> float:
    """How many rooms the node has rebuilt from the store (its /metrics replay counter)."""
    return await metric(http, nodes.base(name), "quiz_room_replay_seconds_count")


async def test_a_room_nobody_serves_is_read_once_and_again_only_once_it_changed(schema, http, tmp_path):
    store, _ = schema
    nodes = Cluster(
        store,
        "--sweep-interval-s",
        str(FAST_SWEEP_S),
        "--ended-room-ttl-s",
        str(ENDED_TTL_S),
        names=("node1", "node2", "node3"),
        log_dir=tmp_path,
    )
    orphans = 20
    async with nodes.running(http):
        hosts = [await connect(http, nodes.ws("node2")) for _ in range(orphans)]
        codes = [(await create_room(host, DEMO_QUIZ))[0] for host in hosts]
        await create_room(await connect(http, nodes.ws("node1")), DEMO_QUIZ)  # node1 reads them
        nodes.signal("node2", signal.SIGKILL)  # nobody serves its rooms once their leases run out

        # node1's sweeps read each of them once ...
        loop = asyncio.get_running_loop()
        end = loop.time() + LEASE_TTL_S + 15
        while (read := await rooms_replayed(http, nodes, "node1")) < orphans:
            assert loop.time() < end, f"node1 read {read} of the {orphans} rooms nobody serves"
            await asyncio.sleep(0.1)
        assert read == orphans
        # ... and not again: six sweeps later none was replayed (before: 20 a sweep).
        await asyncio.sleep(6 * FAST_SWEEP_S)
        assert await rooms_replayed(http, nodes, "node1") == orphans

        # node3 serves one of them meanwhile: its host comes back there and ends the quiz,
        # which makes it due in ENDED_TTL_S rather than in minutes. Then node3 dies too.
        code, host = codes[0], hosts[0]
        again, _, _, owner = await enter(http, nodes.ws("node3"), code, "Host", host.token, nodes=nodes)
        assert owner == "node3"
        await again.request({"type": "end"}, "quiz_ended")
        nodes.signal("node3", signal.SIGKILL)
        # node1 reads that room again (its version moved), finds it due, and closes it.
        closed = re.compile(rf"room {code} \(\S+\) closed: ")
        end = loop.time() + LEASE_TTL_S + ENDED_TTL_S + 15
        while not closed.search((nodes.log_dir / "node1.log").read_text(errors="replace")):
            assert loop.time() < end, f"node1 did not close room {code}, which ended on node3"
            await asyncio.sleep(0.1)
        await asyncio.sleep(4 * FAST_SWEEP_S)
        # That room twice (the sweep's read, then its start to close it), no other again.
        # Three times if a sweep read node3's first save of it (its leases and versions
        # are two statements, node3 may take the lease and save between them).
        assert orphans + 2 <= await rooms_replayed(http, nodes, "node1") <= orphans + 3
