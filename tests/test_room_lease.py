"""A room serves only under a lease its node's keeper still vouches for (cluster mode).

The lease keeper gives a lease up on its own thread (not renewed in time, or renewed
to another node) and the hub then tells the room ``StopServing``, behind whatever the
room's mailbox already holds. The room does not wait for it: before each message it
asks the keeper (``RoomLease.kept``, in memory) and, once the lease is gone, stores
nothing more, refuses the message with ``busy``, sends its members to reconnect
(1012) and stops. Here a real room actor on a SQLite store, with the keeper's answer
in the test's hands.
"""

from __future__ import annotations

import json
import queue
import threading
from typing import Any

import pytest

from eventstore import EventStore
from quiz_actors.actors.messages import (
    CloseSocket,
    Deliver,
    Join,
    LeaseLost,
    MemberDisconnected,
    RoomCommand,
    Sender,
)
from quiz_actors.actors.room.actor import RoomActor
from quiz_actors.clock import ManualClock
from quiz_actors.cluster.fencing import RoomLease
from quiz_actors.settings import Settings
from quiz_actors.tokens import SeatSigner
from tests.conftest import one_question_room
from tests.recorder import Recorder

WAIT_S = 10


def next_of(received: queue.Queue[Any], kind: type) -> Any:
    while True:
        message = received.get(timeout=WAIT_S)
        if isinstance(message, kind):
            return message


def texts(delivered: Deliver) -> list[dict[str, Any]]:
    return [json.loads(text) for text in delivered.batch.texts]


def test_a_room_whose_lease_the_keeper_gave_up_stores_nothing_more_and_stops(tmp_path, started):
    store = EventStore(f"sqlite:///{tmp_path}/events.sqlite3")
    room = one_question_room("123456")
    store.save(room)
    hub_inbox: queue.Queue[Any] = queue.Queue()
    ann_inbox: queue.Queue[Any] = queue.Queue()
    bob_inbox: queue.Queue[Any] = queue.Queue()
    hub, ann_conn, bob_conn = (started(Recorder, q) for q in (hub_inbox, ann_inbox, bob_inbox))
    kept = threading.Event()
    kept.set()
    lease = RoomLease("node1", 3, still_held=lambda: True, kept=kept.is_set)
    actor = started(
        RoomActor,
        room.id,
        store,
        ManualClock(),
        Settings(store=str(tmp_path)),
        SeatSigner(b"secret"),
        hub,
        created=room,
        lease=lease,
    )
    try:
        actor.tell(Join(Sender("ann", 1, ann_conn), "Ann", 1))
        (state,) = texts(next_of(ann_inbox, Deliver))
        assert state["type"] == "state"
        stored = store.load(room.id).version

        kept.clear()  # the keeper gives the lease up; the hub's StopServing is still on its way
        actor.tell(Join(Sender("bob", 2, bob_conn), "Bob", 2))

        (refused,) = texts(next_of(bob_inbox, Deliver))
        assert (refused["type"], refused["ref"]) == ("error", 2)
        assert refused["code"] == "busy"
        closed = next_of(ann_inbox, CloseSocket)
        assert closed.code == 1012
        assert next_of(hub_inbox, LeaseLost) == LeaseLost(str(room.id), 3)
        actor.actor_stopped.wait(WAIT_S)
        assert not actor.is_alive()
        after = store.load(room.id)
        assert after.version == stored, "the room stored something after its lease was given up"
        assert "bob" not in after.members
    finally:
        store.close()


def test_a_closed_room_whose_lease_was_released_says_it_is_closed(tmp_path, started):
    """The hub releases a closed room's lease as it stops it: a join queued meanwhile
    hears that the room is gone, not ``busy``, and the hub hears of no lost lease."""
    store = EventStore(f"sqlite:///{tmp_path}/events.sqlite3")
    room = one_question_room("123456")
    room.close("host_left", at=2)
    store.save(room)
    hub_inbox: queue.Queue[Any] = queue.Queue()
    ann_inbox: queue.Queue[Any] = queue.Queue()
    hub, ann_conn = (started(Recorder, q) for q in (hub_inbox, ann_inbox))
    lease = RoomLease("node1", 3, still_held=lambda: False, kept=lambda: False)
    seats, settings = SeatSigner(b"secret"), Settings(store=str(tmp_path))
    actor = started(RoomActor, room.id, store, ManualClock(), settings, seats, hub, created=room, lease=lease)
    try:
        actor.tell(Join(Sender("ann", 1, ann_conn), "Ann", 1))
        (refused,) = texts(next_of(ann_inbox, Deliver))
        assert (refused["type"], refused["code"], refused["ref"]) == ("error", "room_not_found", 1)
        assert actor.is_alive()
        assert all(not isinstance(m, LeaseLost) for m in list(hub_inbox.queue))
    finally:
        store.close()


def test_a_joiner_that_reaches_a_stopping_room_is_answered(tmp_path, started):
    """pykka drops the tells still in a mailbox when its actor stops. A join that came in
    as the room stopped (its lease lost, a drain, an idle stop) would leave its client
    waiting: it is sent to reconnect (1012), and a join to a closed room hears that the
    room is gone. A socket that left for another room, or a member's command to a room
    that merely stopped, is not closed."""
    store = EventStore(f"sqlite:///{tmp_path}/events.sqlite3")
    open_room, closed_room = one_question_room("123456"), one_question_room("654321")
    closed_room.close("host_left", at=2)
    store.save(open_room, closed_room)
    hub_inbox: queue.Queue[Any] = queue.Queue()
    conn_inbox: queue.Queue[Any] = queue.Queue()
    hub, conn = (started(Recorder, q) for q in (hub_inbox, conn_inbox))
    seats, settings, clock = SeatSigner(b"secret"), Settings(store=str(tmp_path)), ManualClock()
    opened, closed = (
        started(RoomActor, room.id, store, clock, settings, seats, hub, created=room)
        for room in (open_room, closed_room)
    )
    bob = Sender("bob", 2, conn)
    try:
        late = opened.proxy().on_late_message  # what the stopping actor calls for each dropped tell
        late(MemberDisconnected(bob, "switched")).get(timeout=WAIT_S)  # bob is in another room now
        late(RoomCommand(bob, {"type": "answer", "question": 0, "choice": 1}, 0)).get(timeout=WAIT_S)
        late(Join(bob, "Bob", 7)).get(timeout=WAIT_S)
        first = conn_inbox.get(timeout=WAIT_S)
        assert isinstance(first, CloseSocket) and first.code == 1012, first
        with pytest.raises(queue.Empty):  # one close, the join's: the other two were let be
            conn_inbox.get(timeout=0.5)

        closed.proxy().on_late_message(Join(bob, "Bob", 8)).get(timeout=WAIT_S)
        (refused,) = texts(next_of(conn_inbox, Deliver))
        assert (refused["type"], refused["code"], refused["ref"]) == ("error", "room_not_found", 8)
    finally:
        store.close()
