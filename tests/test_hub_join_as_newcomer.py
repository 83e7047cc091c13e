"""A join on a seat whose user is not a member is sent back by the room to the hub
(``JoinAsNewcomer``), which counts it against its address's join rate like any
newcomer's, then hands it to the room again. Here a real hub on a SQLite store, with
the room and the joiner's connection stood for by actors that record what they hear:
the join goes on to the room, marked as no longer on its seat; an address past its
rate is refused in plain words; and a room that stopped in between (it moved to
another node, drained or closed) sends the joiner to reconnect (1012), so that it
joins again wherever the room is now, instead of waiting for an answer that never
comes."""

from __future__ import annotations

import json
import queue
from typing import Any

import pykka
import pytest

from eventstore import EventStore
from quiz_actors import protocol
from quiz_actors.actors.hub import HubActor
from quiz_actors.actors.messages import CloseSocket, Deliver, Join, JoinAsNewcomer, Sender
from quiz_actors.clock import ManualClock
from quiz_actors.settings import Settings
from quiz_actors.tokens import SeatSigner
from tests.recorder import Recorder

WAIT_S = 10


@pytest.fixture
def hub(tmp_path):
    store = EventStore(f"sqlite:///{tmp_path}/events.sqlite3")
    settings = Settings(joins_per_ip_per_minute=2)
    ref = HubActor.start(store, ManualClock(), settings, SeatSigner(b"k" * 32))
    yield ref
    ref.stop()
    store.close()


@pytest.fixture
def recorders(started):
    """``recorders()`` starts a Recorder: its ref, and the queue of what it heard."""

    def start() -> tuple[pykka.ActorRef[Any], queue.Queue[Any]]:
        received: queue.Queue[Any] = queue.Queue()
        return started(Recorder, received), received

    return start


def test_a_newcomer_sent_back_by_its_room_is_counted_then_let_on_or_refused(hub, recorders):
    room, room_heard = recorders()
    conn, conn_heard = recorders()
    sender = Sender("left-earlier", 1, conn, ip="198.51.100.7")
    for ref in (1, 2):  # the address's rate is 2 a minute here
        hub.tell(JoinAsNewcomer(Join(sender, "Ann", ref, on_seat=True), room))
        passed_on = room_heard.get(timeout=WAIT_S)
        assert passed_on == Join(sender, "Ann", ref, on_seat=False)
    hub.tell(JoinAsNewcomer(Join(sender, "Ann", 3, on_seat=True), room))
    refused = conn_heard.get(timeout=WAIT_S)
    assert isinstance(refused, Deliver)
    [reply] = [json.loads(text) for text in refused.batch.texts]
    assert reply["type"] == "error" and reply["ref"] == 3
    assert reply["reason"] == "too_many_joins", reply
    assert "join" in reply["message"].lower()
    assert room_heard.empty()
    # The rate is the address's: a newcomer from another one goes on.
    other = Sender("another", 2, conn, ip="198.51.100.99")
    hub.tell(JoinAsNewcomer(Join(other, "Bob", 4, on_seat=True), room))
    assert room_heard.get(timeout=WAIT_S) == Join(other, "Bob", 4, on_seat=False)


def test_a_newcomer_whose_room_stopped_meanwhile_is_sent_to_reconnect(hub, recorders):
    room, room_heard = recorders()
    conn, conn_heard = recorders()
    room.stop()  # the room moved, drained or closed after it sent the join back
    sender = Sender("left-earlier", 1, conn, ip="198.51.100.8")
    hub.tell(JoinAsNewcomer(Join(sender, "Ann", 1, on_seat=True), room))
    closed = conn_heard.get(timeout=WAIT_S)
    assert closed == CloseSocket(protocol.CLOSE_SERVICE_RESTART, "room moved")
    assert hub.is_alive()
