"""The sweep reads a room nobody has in memory once, and again only when it changed.

A room not in any node's memory does not change, yet every sweep used to replay it
to learn whether it was closed or when it was due: after a node was killed, every
node replayed all its rooms once a minute until each was due. The sweep now keeps
what it learnt with the room's version and replays only the rooms whose version
moved. On a real store of each kind, counting the store's own loads (its observer,
which the server's metrics use), with the rooms changed by a second store on the same
database, as another node would.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import pytest

from eventstore import EventStore
from quiz_actors.actors.messages import RoomsSwept
from quiz_actors.actors.sweeper import RoomSweep
from quiz_actors.settings import Settings
from tests.conftest import one_question_room

ENDED_TTL_S = 60  # a room whose quiz ended closes a minute after
IDLE_TTL_S = 3600  # any other room: an hour after its last event
START_MS = 1  # when one_question_room opens a room


class CountedLoads:
    """The store's observer: counts the rooms it replays."""

    def __init__(self) -> None:
        self.rooms = 0

    def saved(self, events: Sequence[Any], seconds: float) -> None:
        pass

    def save_failed(self, seconds: float, conflict: bool) -> None:
        pass

    def loaded(self, aggregate: Any, seconds: float) -> None:
        self.rooms += type(aggregate).__name__ == "Room"


@pytest.fixture
def stores(store_url):
    """The sweeping node's store (its loads counted) and another node's, on one database."""
    loads = CountedLoads()
    mine, other = EventStore(store_url, observer=loads), EventStore(store_url)
    yield mine, other, loads
    mine.close()
    other.close()


def sweep_of(store: EventStore) -> RoomSweep:
    settings = Settings(
        store="unused",
        ended_room_ttl_s=ENDED_TTL_S,
        idle_room_ttl_s=IDLE_TTL_S,
        unjoined_room_ttl_s=IDLE_TTL_S,
    )
    return RoomSweep(store, settings, cluster=None)  # cluster mode only drops the rooms others hold first


def stored_rooms(store: EventStore, count: int) -> tuple[tuple[str, str], ...]:
    """``count`` rooms nobody joined, stored: (code, room id) as the hub lists them."""
    rooms = [one_question_room(f"{500000 + n}") for n in range(count)]
    store.save(*rooms)
    return tuple((room.code, str(room.id)) for room in rooms)


def test_a_second_sweep_replays_no_room_that_did_not_change(stores):
    mine, other, loads = stores
    rooms = stored_rooms(other, 5)
    sweep = sweep_of(mine)

    assert sweep(rooms, now=START_MS + 1000) == RoomsSwept()
    assert loads.rooms == 5
    for minutes in (1, 2, 3):
        assert sweep(rooms, now=START_MS + minutes * 60_000) == RoomsSwept()
    assert loads.rooms == 5  # nothing changed: decided from what the first sweep read

    # Unchanged, and due: decided from memory too.
    due = sweep(rooms, now=START_MS + IDLE_TTL_S * 1000)
    assert due == RoomsSwept(due=tuple(room_id for _, room_id in rooms))
    assert loads.rooms == 5


def test_a_room_that_changed_between_sweeps_is_read_again_and_closed_when_due(stores):
    mine, other, loads = stores
    rooms = stored_rooms(other, 4)
    (_, kept), (_, ended), (closed_code, closed), _ = rooms
    sweep = sweep_of(mine)
    assert sweep(rooms, now=START_MS + 1000) == RoomsSwept()
    assert loads.rooms == 4

    # Another node serves two of them meanwhile, and lets them go: one quiz ends (due a
    # minute later, not an hour), the other room is closed (its code is still assigned).
    ended_at = START_MS + 10 * 60_000
    ended_room = other.load(uuid.UUID(ended))
    ended_room.end("h", ended_at)
    closed_room = other.load(uuid.UUID(closed))
    closed_room.close("abandoned", ended_at)
    other.save(ended_room, closed_room)

    found = sweep(rooms, now=ended_at + ENDED_TTL_S * 1000 + 1)
    assert found == RoomsSwept(closed=((closed, closed_code),), due=(ended,))
    assert loads.rooms == 4 + 2  # the two that changed, only

    # A room the hub no longer lists (in memory on this node now, say) is forgotten:
    # listed again later, it is read again.
    without = tuple(pair for pair in rooms if pair[1] != kept)
    sweep(without, now=ended_at + 2 * 60_000)
    assert loads.rooms == 6
    sweep(rooms, now=ended_at + 3 * 60_000)
    assert loads.rooms == 7
