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


def test_a_keeper_with_no_room_still_says_whether_it_reaches_postgresql(database, schema):
    """Its renewal runs with no lease to renew: the node's metrics (and the alert on the
    age of the last renewal, deploy/prometheus-alerts.yml) tell an idle node cut off from
    the database, and one that gave all its rooms up in an outage, from a healthy one."""
    from quiz_actors.metrics import REGISTRY

    def sample(name: str) -> float:
        value = REGISTRY.get_sample_value(name)
        assert value is not None, name
        return value

    keeper = LeaseKeeper(LeaseTable(database, "node1", TTL_S), TTL_S, TTL_S / 4, lambda *a: None)
    before = time.time()
    keeper.renew_once()
    assert sample("quiz_cluster_leases_renewed_at_seconds") >= before
    failures = sample("quiz_cluster_lease_renewal_failures_total")

    store_url, _ = schema
    gone = ClusterDatabase(store_url.replace("127.0.0.1:5432", "127.0.0.1:1"))  # nothing listens there
    cut_off = LeaseKeeper(LeaseTable(gone, "node2", TTL_S), TTL_S, TTL_S / 4, lambda *a: None)
    renewed_at = sample("quiz_cluster_leases_renewed_at_seconds")
    cut_off.renew_once()
    assert sample("quiz_cluster_lease_renewal_failures_total") == failures + 1
    assert sample("quiz_cluster_leases_renewed_at_seconds") == renewed_at
    gone.close()


def test_a_lease_a_room_found_lost_is_counted_once(database):
    """The room, not the keeper, found its lease gone (a newer takeover stored): counted
    as ``fenced`` once, and a later renewal does not count it again as ``taken``."""
    from quiz_actors.metrics import REGISTRY

    def lost(reason: str) -> float:
        value = REGISTRY.get_sample_value("quiz_cluster_leases_lost_total", {"reason": reason})
        assert value is not None, reason
        return value

    keeper = LeaseKeeper(LeaseTable(database, "node1", TTL_S), TTL_S, TTL_S / 4, lambda *a: None)
    other = LeaseTable(database, "node2", TTL_S)
    room = str(uuid.uuid4())
    epoch = keeper.acquire(room)
    assert epoch == 1
    fenced, taken = lost("fenced"), lost("taken")
    time.sleep(TTL_S + 0.1)
    assert other.acquire(room) == 2  # node2 takes the room; node1's room finds its takeover
    keeper.found_lost(room, epoch)
    keeper.found_lost(room, epoch)  # the room's two ways of finding out: counted once
    keeper.renew_once()
    assert keeper.epoch_of(room) is None
    assert (lost("fenced"), lost("taken")) == (fenced + 1, taken)


def test_two_processes_with_one_node_name_are_named_in_the_log_and_counted(database, caplog):
    """A node may retake its own rooms at once (a restart under the same name), so a second
    process given the same --node-id takes a room from the first without waiting. The first
    finds the room renewed under its name at a newer epoch: it stops the room and says, as
    an error, that two processes share the name; the metric counts it apart from a room
    taken by another node."""
    from quiz_actors.metrics import REGISTRY

    def same_name_losses() -> float:
        value = REGISTRY.get_sample_value("quiz_cluster_leases_lost_total", {"reason": "same_name"})
        assert value is not None
        return value

    lost: list[tuple[str, int]] = []
    first = LeaseKeeper(LeaseTable(database, "node1", TTL_S), TTL_S, TTL_S / 4, lambda *a: lost.append(a))
    second = LeaseKeeper(LeaseTable(database, "node1", TTL_S), TTL_S, TTL_S / 4, lambda *a: None)
    room = str(uuid.uuid4())
    before = same_name_losses()

    assert first.acquire(room) == 1
    assert second.acquire(room) == 2  # the same name: no wait for the lease to run out
    first.renew_once()
    assert lost == [(room, 1)]
    assert same_name_losses() == before + 1
    (record,) = [r for r in caplog.records if r.levelname == "ERROR"]
    assert "two processes share --node-id node1" in record.getMessage()

    second.renew_once()  # the second keeps the room
    assert second.epoch_of(room) == 2


def test_a_renewal_sent_before_this_process_took_a_room_again_does_not_stop_it(database, monkeypatch):
    """The room stopped here and started again here (a new lease, a newer epoch) while a
    renewal of the old lease was on its way: its answer names the old epoch, and the new
    lease stands."""
    lost: list[tuple[str, int]] = []
    keeper = LeaseKeeper(LeaseTable(database, "node1", TTL_S), TTL_S, TTL_S / 4, lambda *a: lost.append(a))
    room = str(uuid.uuid4())
    assert keeper.acquire(room) == 1
    old_renewal = keeper.leases.renew([room])  # sent before the room was taken again
    keeper.release([room])
    assert keeper.acquire(room) == 2

    monkeypatch.setattr(keeper.leases, "renew", lambda room_ids: old_renewal)
    keeper.renew_once()
    assert lost == []
    assert keeper.epoch_of(room) == 2


def test_a_name_whose_leases_another_process_renews_is_told_from_a_crashed_ones(database):
    """Before a node takes any room it asks whether another process renews leases under its
    name (``renewed_elsewhere``). A keeper renewing a room under the name is one; leases the
    name holds that nobody renews (a process that crashed under it) are not; nor is a name
    with no valid lease (a node that stopped cleanly)."""
    from quiz_actors.cluster.leases import renewed_elsewhere

    asking = LeaseTable(database, "node1", TTL_S)
    assert not renewed_elsewhere(asking, 0.2)  # no lease of the name

    running = LeaseKeeper(LeaseTable(database, "node1", 5.0), 5.0, 0.05, lambda *a: None)
    running.acquire(str(uuid.uuid4()))
    running.start()  # renews every 50 ms
    try:
        assert renewed_elsewhere(asking, 0.2)
    finally:
        running.stop()
    assert not renewed_elsewhere(asking, 0.2)  # still valid, but renewed by nobody: crashed


def test_a_renewal_answered_while_this_process_takes_a_room_again_is_not_a_shared_name(
    database, monkeypatch, caplog
):
    """This process takes a room again while its keeper still records the older lease (a
    room actor that failed, started again by a join). A renewal answered between the new
    lease's statement and the keeper's record of it names the new epoch: that is this
    process's own lease, not another process's under its name."""
    lost: list[tuple[str, int]] = []
    keeper = LeaseKeeper(LeaseTable(database, "node1", TTL_S), TTL_S, TTL_S / 4, lambda *a: lost.append(a))
    room = str(uuid.uuid4())
    assert keeper.acquire(room) == 1
    take = keeper.leases.acquire

    def take_then_renew(room_id: str) -> int | None:
        epoch = take(room_id)
        keeper.renew_once()  # the renewer's turn, before acquire records the new epoch
        return epoch

    monkeypatch.setattr(keeper.leases, "acquire", take_then_renew)
    assert keeper.acquire(room) == 2
    assert lost == []
    assert not [r for r in caplog.records if r.levelname == "ERROR"]
    assert keeper.epoch_of(room) == 2


def test_a_room_fenced_out_by_a_process_under_its_own_name_says_so(database, caplog):
    """The room itself may find the other process first (its takeover stored, or the lease
    table after a failed save): counted and logged as a shared name, not as fencing."""
    from quiz_actors.cluster.fencing import RoomLease
    from quiz_actors.metrics import REGISTRY

    def lost_for(reason: str) -> float:
        value = REGISTRY.get_sample_value("quiz_cluster_leases_lost_total", {"reason": reason})
        assert value is not None
        return value

    keeper = LeaseKeeper(LeaseTable(database, "node1", TTL_S), TTL_S, TTL_S / 4, lambda *a: None)
    room = str(uuid.uuid4())
    epoch = keeper.acquire(room)
    assert epoch == 1
    lease = RoomLease("node1", epoch, still_held=lambda: False)
    assert lease.taken_under_this_name(("node1", 2))
    assert not lease.taken_under_this_name(("node2", 2))  # another node: fenced, as ever
    assert not lease.taken_under_this_name(("node1", 1))  # this lease itself
    assert not lease.taken_under_this_name(None)

    fenced, shared = lost_for("fenced"), lost_for("same_name")
    keeper.found_lost(room, epoch, same_name=True)
    assert (lost_for("fenced"), lost_for("same_name")) == (fenced, shared + 1)
    (record,) = [r for r in caplog.records if r.levelname == "ERROR"]
    assert "two processes share --node-id node1" in record.getMessage()
