"""The sweep's reading, off the hub's thread.

Every ``sweep_interval_s`` the hub looks for rooms not in memory that are closed
or whose cleanup time has passed (see ``HubActor._on_sweep_due``). Finding them
means reading each of those rooms from the store and, in cluster mode, which of
them another node holds. With a few hundred rooms in the directory that took
seconds, more on a loaded machine, and while the hub read, it answered nobody: a
``create_room`` or a ``join`` on that node waited for the whole sweep (issue 19:
a host heard nothing for ~11 s). So the hub hands the list to this actor, which
reads and tells the hub what it found; the hub alone changes the directory and
starts rooms, as before. What it read of a room it remembers until the room
changes (``RoomSweep``): a room nobody serves is replayed once, not every sweep.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pykka

from eventstore import EventStore
from quiz_actors import logs
from quiz_actors.actors.delivery import tell_quietly
from quiz_actors.actors.messages import RoomsSwept, SweepRooms
from quiz_actors.domain.room import CLOSED
from quiz_actors.settings import Settings

if TYPE_CHECKING:
    from quiz_actors.cluster.node import ClusterNode

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Seen:
    """What a sweep learnt of a room from the store, and at which of its versions."""

    version: int
    closed: bool
    due_at: int | None  # its cleanup time (room.cleanup_due_at), None if it has none


class RoomSweep:
    """Which rooms not in memory are closed or due to close, from the store.

    A room nobody has in memory does not change, yet every sweep used to replay each
    such room to learn when it is due: after a node was killed, every node replayed
    all its orphaned rooms once a minute, for the hours until each was due. So a sweep
    remembers what it learnt of each room with the room's version, and the next sweep
    reads only the rooms' last versions (one statement for them all) and replays just
    the rooms whose version moved (another node served it meanwhile, and let it go).
    Whether a room is closed, and when it is due, follow from its events and the
    settings alone, so an unchanged version means an unchanged answer.

    Used by one thread at a time: the hub's at start-up, then the sweeper's.
    """

    def __init__(self, store: EventStore, settings: Settings, cluster: ClusterNode | None):
        self.store, self.settings, self.cluster = store, settings, cluster
        self.seen: dict[str, Seen] = {}  # room id -> what the last read of it said

    def __call__(self, rooms: tuple[tuple[str, str], ...], now: int) -> RoomsSwept:
        """Which of ``rooms`` ((code, room id) pairs) are closed or due to close."""
        # Rooms the hub no longer sweeps (closed and released, or in memory here) are forgotten.
        swept = {room_id for _, room_id in rooms}
        self.seen = {room_id: seen for room_id, seen in self.seen.items() if room_id in swept}
        if self.cluster is not None and rooms:
            # Rooms another node serves are that node's to close; one statement for them all.
            try:
                held = self.cluster.leases.held([room_id for _, room_id in rooms])
            except Exception:
                log.warning("sweep: cannot read the rooms' leases; trying again next sweep", exc_info=True)
                return RoomsSwept()
            rooms = tuple((code, room_id) for code, room_id in rooms if room_id not in held)
        if not rooms:
            return RoomsSwept()
        try:
            versions = self.store.last_versions([uuid.UUID(room_id) for _, room_id in rooms])
        except Exception:
            log.warning("sweep: cannot read the rooms' versions; trying again next sweep", exc_info=True)
            return RoomsSwept()
        closed: list[tuple[str, str]] = []
        due: list[str] = []
        replayed = 0
        for code, room_id in rooms:
            version = versions.get(uuid.UUID(room_id))
            if version is None:
                continue  # never stored
            seen = self.seen.get(room_id)
            if seen is None or seen.version != version:
                seen = self._read(code, room_id)
                if seen is None:
                    continue
                replayed += 1
                self.seen[room_id] = seen
            if seen.closed:
                closed.append((room_id, code))
            elif seen.due_at is not None and seen.due_at <= now:
                due.append(room_id)
        log.debug("sweep: %d rooms looked at, %d of them replayed from the store", len(rooms), replayed)
        return RoomsSwept(tuple(closed), tuple(due))

    def _read(self, code: str, room_id: str) -> Seen | None:
        """The room replayed from the store: closed, or when it is due."""
        try:
            room = self.store.load(uuid.UUID(room_id))
        except Exception:
            log.exception(
                "sweep: cannot load room %s (%s); trying again next sweep",
                code,
                room_id,
                extra=logs.fields(room_id=room_id),
            )
            return None
        if room is None:
            return None
        settings = self.settings
        due_at = room.cleanup_due_at(
            int(settings.ended_room_ttl_s * 1000),
            int(settings.idle_room_ttl_s * 1000),
            assume_nobody_online=True,
            unjoined_ttl_ms=int(settings.unjoined_room_ttl_s * 1000),
        )
        return Seen(room.version, room.phase == CLOSED, due_at)


class SweeperActor(pykka.ThreadingActor):
    use_daemon_thread = True  # a sweep under way must not hold the process at exit

    def __init__(self, sweep: RoomSweep, hub: pykka.ActorRef[Any]):
        super().__init__()
        self.sweep, self.hub = sweep, hub  # the hub hands its RoomSweep over, and uses it no more

    def on_receive(self, message: object) -> None:
        if not isinstance(message, SweepRooms):
            return
        try:
            found = self.sweep(message.rooms, message.now_ms)
        except Exception:
            log.exception("sweep failed; trying again next sweep")
            found = RoomsSwept()
        tell_quietly(self.hub, found)  # always: the hub starts no other sweep until it hears
