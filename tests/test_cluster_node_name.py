"""Two processes must not run as one cluster node (issue 19; docs/cluster.md).

A node may retake its own rooms at once (a restart under the same name), so a second
process started with a running node's --node-id would take that node's rooms, and the
two would take them back and forth. Started on purpose beside a node that serves a
room, the second process refuses to start, in plain words, and the first goes on.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.cluster_nodes import LEASE_RENEW_S, LEASE_TTL_S, Cluster, connect
from tests.conftest import DEMO_QUIZ, create_room, free_port

pytestmark = pytest.mark.postgres


async def test_a_second_process_with_a_running_nodes_name_refuses_to_start(schema, http, tmp_path):
    store, _ = schema
    nodes = Cluster(store, names=("node1",), log_dir=tmp_path)
    async with nodes.running(http):
        host = await connect(http, nodes.ws("node1"))
        await create_room(host, DEMO_QUIZ, "Host")  # node1 now holds the room's lease

        twin = subprocess.run(
            [
                sys.executable,
                "-m",
                "quiz_actors",
                "--cluster",
                "--node-id",
                "node1",
                "--port",
                str(free_port()),
                "--store",
                store,
                "--lease-ttl-s",
                str(LEASE_TTL_S),
                "--lease-renew-s",
                str(LEASE_RENEW_S),
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert twin.returncode != 0
        assert "another process is running as cluster node 'node1'" in twin.stderr, twin.stderr
        assert "Give each node its own --node-id" in twin.stderr

        await host.send({"type": "lock"})  # the room is still served, by node1
        assert (await host.expect("room_locked"))["reason"] == "host"
        await host.close()
