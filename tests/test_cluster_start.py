"""Cluster mode's settings (issue 19); three nodes starting at once: tests/test_cluster.py."""

from __future__ import annotations

import subprocess
import sys

import pytest
from eventsourcing.persistence import IntegrityError

from quiz_actors.settings import Settings
from tests.conftest import POSTGRES_URL


def test_cluster_mode_refuses_sqlite_in_plain_words(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "quiz_actors", "--cluster", "--store", f"sqlite:///{tmp_path}/e.sqlite3"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode != 0
    assert "--cluster (QUIZ_CLUSTER) needs a PostgreSQL store that every node shares" in result.stderr
    assert not (tmp_path / "e.sqlite3").exists()


def test_cluster_settings_from_options_and_environment():
    settings = Settings.from_command_line(
        ["--cluster", "--node-id", "node2", "--lease-ttl-s", "4", "--lease-renew-s", "1"], environ={}
    )
    assert (settings.cluster, settings.node_name, settings.lease_ttl_s, settings.lease_renew_s) == (
        True,
        "node2",
        4.0,
        1.0,
    )
    assert Settings.from_env({"QUIZ_CLUSTER": "1"}).cluster is True
    assert Settings.from_command_line([], environ={}).cluster is False  # single node unless asked
    too_slow = Settings(store=POSTGRES_URL, cluster=True, lease_ttl_s=2, lease_renew_s=1.5)
    assert any("at most half of --lease-ttl-s" in p for p in too_slow.problems())
    bad_name = Settings(store=POSTGRES_URL, cluster=True, node_id="a b")
    assert any("--node-id (QUIZ_NODE_ID): 'a b' may only hold" in p for p in bad_name.problems())
    assert Settings(store=POSTGRES_URL, cluster=True, node_id="node1").problems() == []
    # A name the node made up would match no server in HAProxy: joins redirected to it
    # would be hashed elsewhere again, and never get in.
    nameless = Settings(store=POSTGRES_URL, cluster=True).problems()
    assert nameless == [
        "--cluster (QUIZ_CLUSTER) needs --node-id (QUIZ_NODE_ID): this node's name, the same as its "
        "server name in HAProxy's configuration (node1, node2… in contrib/haproxy.cfg)"
    ]


def test_a_takeover_is_stored_fences_older_leases_and_changes_nothing_members_see(tmp_path):
    from eventstore import EventStore
    from quiz_actors.cluster.fencing import RoomLease
    from tests.conftest import one_question_room

    store = EventStore(f"sqlite:///{tmp_path}/e.sqlite3")
    room = one_question_room("123456")
    store.save(room)
    assert room.owner() is None
    first, second = RoomLease("node1", 1, lambda: True), RoomLease("node2", 2, lambda: True)
    assert not first.needs_takeover(room)  # the creator's lease: nobody to fence out
    assert second.needs_takeover(room) and not second.fenced_out(room)
    seq, last_event_at = room.seq, room.last_event_at
    room.take_over("node2", 2, at=last_event_at + 60_000)
    store.save(room)
    loaded = store.load(room.id)
    assert loaded.owner() == ("node2", 2)
    assert (loaded.seq, loaded.last_event_at) == (seq, last_event_at)  # no seq, no activity
    assert first.fenced_out(loaded) and not second.fenced_out(loaded) and not second.needs_takeover(loaded)
    # The former owner's copy is one version behind: its next save fails on the version check.
    behind = store.load(room.id, version=room.version - 1)
    behind.take_over("node1", 1, at=last_event_at + 1)  # any event: it takes the same version
    with pytest.raises(IntegrityError):
        store.save(behind)
    store.close()
