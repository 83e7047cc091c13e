"""The sweep's reading, off the hub's thread.

Every ``sweep_interval_s`` the hub looks for rooms not in memory that are closed
or whose cleanup time has passed (see ``HubActor._on_sweep_due``). Finding them
means reading each of those rooms from the store and, in cluster mode, which of
them another node holds. With a few hundred rooms in the directory that took
seconds, more on a loaded machine, and while the hub read, it answered nobody: a
``create_room`` or a ``join`` on that node waited for the whole sweep (issue 19:
a host heard nothing for ~11 s). So the hub hands the list to this actor, which
reads and tells the hub what it found; the hub alone changes the directory and
starts rooms, as before.
"""

from __future__ import annotations

import logging
import uuid
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


def sweep(
    store: EventStore,
    settings: Settings,
    cluster: ClusterNode | None,
    rooms: tuple[tuple[str, str], ...],
    now: int,
) -> RoomsSwept:
    """Which of ``rooms`` ((code, room id) pairs) are closed or due to close, from the store."""
    if cluster is not None and rooms:
        # Rooms another node serves are that node's to close; one statement for them all.
        try:
            held = cluster.leases.held([room_id for _, room_id in rooms])
        except Exception:
            log.warning("sweep: cannot read the rooms' leases; trying again next sweep")
            return RoomsSwept()
        rooms = tuple((code, room_id) for code, room_id in rooms if room_id not in held)
    ended_ttl = int(settings.ended_room_ttl_s * 1000)
    idle_ttl = int(settings.idle_room_ttl_s * 1000)
    unjoined_ttl = int(settings.unjoined_room_ttl_s * 1000)
    closed: list[tuple[str, str]] = []
    due: list[str] = []
    for code, room_id in rooms:
        try:
            room = store.load(uuid.UUID(room_id))
        except Exception:
            log.exception(
                "sweep: cannot load room %s (%s); trying again next sweep",
                code,
                room_id,
                extra=logs.fields(room_id=room_id),
            )
            continue
        if room is None:
            continue
        if room.phase == CLOSED:
            closed.append((room_id, code))
            continue
        at = room.cleanup_due_at(ended_ttl, idle_ttl, assume_nobody_online=True, unjoined_ttl_ms=unjoined_ttl)
        if at is not None and at <= now:
            due.append(room_id)
    return RoomsSwept(tuple(closed), tuple(due))


class SweeperActor(pykka.ThreadingActor):
    use_daemon_thread = True  # a sweep under way must not hold the process at exit

    def __init__(
        self, store: EventStore, settings: Settings, cluster: ClusterNode | None, hub: pykka.ActorRef[Any]
    ):
        super().__init__()
        self.store, self.settings, self.cluster, self.hub = store, settings, cluster, hub

    def on_receive(self, message: object) -> None:
        if not isinstance(message, SweepRooms):
            return
        try:
            found = sweep(self.store, self.settings, self.cluster, message.rooms, message.now_ms)
        except Exception:
            log.exception("sweep failed; trying again next sweep")
            found = RoomsSwept()
        tell_quietly(self.hub, found)  # always: the hub starts no other sweep until it hears
