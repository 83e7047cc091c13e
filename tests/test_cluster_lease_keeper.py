"""The lease keeper on a real PostgreSQL schema: which lease it says was lost.

A room is stopped for a lost lease twice over: the keeper tells the hub, and the
room, stopping, tells it again a moment later. By then a join may have started the
room on this node again under a new lease; the late message names the old epoch,
so the hub can tell it from a loss of the new one (hub ``_lease_lost``).
"""

from __future__ import annotations

import time
import uuid

import pytest

from quiz_actors.cluster.database import ClusterDatabase
from quiz_actors.cluster.leases import LeaseKeeper, LeaseTable
from quiz_actors.cluster.schema import open_store

pytestmark = pytest.mark.postgres

TTL_S = 0.3  # short: the test waits for one lease to run out


@pytest.fixture
def database(schema):
    store_url, _ = schema
    database = ClusterDatabase(store_url)
    open_store(database, store_url).close()  # creates the cluster's tables
    yield database
    database.close()


def test_a_lost_lease_is_reported_with_its_epoch_and_a_new_one_is_told_apart(database):
    lost: list[tuple[str, int]] = []
    here = LeaseKeeper(LeaseTable(database, "node1", TTL_S), TTL_S, TTL_S / 4, lambda *a: lost.append(a))
    there = LeaseTable(database, "node2", TTL_S)
    room = str(uuid.uuid4())

    first = here.acquire(room)
    assert first == 1
    time.sleep(TTL_S + 0.1)  # not renewed: the lease runs out
    assert there.acquire(room) == 2  # another node takes the room
    here.renew_once()
    assert lost == [(room, first)]
    assert here.epoch_of(room) is None

    there.release([room])
    second = here.acquire(room)  # a join starts the room here again
    assert second == 3
    assert here.epoch_of(room) == second  # a late report of epoch 1 is not about this lease

    time.sleep(TTL_S)  # past the keeper's safety margin without a renewal
    here.stop_overdue()
    assert lost == [(room, first), (room, second)]
