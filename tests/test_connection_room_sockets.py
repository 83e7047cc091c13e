"""Cluster mode: the lease keeper closes a room's sockets from its own thread, through
the registry of which connection is in which room (quiz_actors/actors/room_sockets.py).
A socket that has joined another room since must stay open."""

from __future__ import annotations

import threading
from typing import Any

import pykka
import pytest

from quiz_actors.actors.connection import ConnectionActor
from quiz_actors.actors.messages import AttachedToRoom, CloseIfInRoom, CloseSocket
from quiz_actors.actors.pooled import Dispatcher
from quiz_actors.actors.room_sockets import RoomSockets
from quiz_actors.clock import SystemClock
from quiz_actors.protocol import Batch
from quiz_actors.tokens import TokenSigner


class Outlet:
    """The socket as the connection actor sees it: records the close it is asked for."""

    peer = "127.0.0.1"

    def __init__(self) -> None:
        self.closes: list[tuple[int, str]] = []
        self.closed = threading.Event()

    def send(self, batch: Batch) -> None:
        pass

    def close(self, code: int, reason: str) -> None:
        self.closes.append((code, reason))
        self.closed.set()

    def authenticated(self, user_id: str) -> None:
        pass

    def set_host(self, is_host: bool) -> None:
        pass


class Room(pykka.ThreadingActor):
    def on_receive(self, message: Any) -> None:
        pass


@pytest.fixture
def parts():
    dispatcher = Dispatcher(workers=1, name="test-connections")
    clock = SystemClock()
    rooms = [Room.start(), Room.start()]
    yield dispatcher, clock, rooms
    for room in rooms:
        room.stop()
    dispatcher.shutdown()
    clock.stop()


def start(parts, registry: RoomSockets) -> tuple[pykka.ActorRef[Any], Outlet]:
    dispatcher, clock, rooms = parts
    outlet = Outlet()
    hub = rooms[0]  # told nothing here: no hello, no join
    conn = ConnectionActor.start(
        outlet,
        hub,
        clock,
        TokenSigner(b"k" * 32, 60_000),
        1000,
        3,
        dispatcher=dispatcher,
        room_sockets=registry,
    )
    return conn, outlet


def settled(conn: pykka.ActorRef[Any]) -> None:
    """Every message told before has been handled (pykka's ask waits its turn)."""
    conn.proxy().room_id.get(timeout=5)


def test_a_socket_in_the_room_closes_and_one_that_moved_on_stays_open(parts):
    _, _, (room_a, room_b) = parts
    registry = RoomSockets()
    stays, stays_outlet = start(parts, registry)
    goes, goes_outlet = start(parts, registry)
    stays.tell(AttachedToRoom("A", room_a, False))
    goes.tell(AttachedToRoom("A", room_a, False))
    settled(stays), settled(goes)
    assert set(registry.in_room("A")) == {stays, goes}

    stays.tell(AttachedToRoom("B", room_b, False))  # it has joined another room since
    settled(stays)
    assert registry.in_room("A") == [goes]
    assert registry.in_room("B") == [stays]

    # The keeper told everyone it saw in A a moment ago, the one now in B too.
    for conn in (stays, goes):
        conn.tell(CloseIfInRoom("A", 1012, "room moved"))
    assert goes_outlet.closed.wait(5)
    settled(stays)
    assert goes_outlet.closes == [(1012, "room moved")]
    assert stays_outlet.closes == []
    assert registry.in_room("A") == []
    assert registry.in_room("B") == [stays]

    # The room's own CloseSocket, later, to the socket already closing: nothing more.
    goes.tell(CloseSocket(1012, "room moved"))
    settled(goes)
    assert goes_outlet.closes == [(1012, "room moved")]

    stays.stop()
    assert registry.in_room("B") == []
    assert registry.rooms() == 0
    goes.stop()
