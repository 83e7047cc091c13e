"""A node's sweep does not hold up its hub (issue 19, the create_room that waited ~11 s).

Every sweep a node reads, for each room of the directory it does not have in memory,
the room's lease and (if nobody holds it) the room itself. Rooms nobody serves pile up
after a fault (a killed node's rooms that nobody joined again, a thawed node's), and the
hub did those reads on its own thread: with a couple of hundred rooms on a loaded
machine a sweep took seconds, and a ``create_room`` or a ``join`` on that node waited
for all of it. Two real nodes on one PostgreSQL schema; node1 reaches it through a
forwarder that delays every round trip, so that its sweep of the dead node2's rooms
takes much longer than a client waits for a reply.
"""

from __future__ import annotations

import asyncio
import signal

import pytest

from tests.cluster_nodes import LEASE_TTL_S, Cluster, PostgresForwarder, connect
from tests.conftest import DEMO_QUIZ, create_room

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
    through = store.replace("127.0.0.1:5432", f"127.0.0.1:{forwarder.port}")
    assert through != store
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
