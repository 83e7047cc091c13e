"""One node of a cluster: its name, its database connections, its leases, its join guard."""

from __future__ import annotations

import logging
from typing import Any

import pykka

from eventstore import EventStore
from quiz_actors import protocol
from quiz_actors.actors.delivery import tell_quietly
from quiz_actors.actors.messages import CloseIfInRoom, LeaseLost
from quiz_actors.actors.room_sockets import RoomSockets
from quiz_actors.cluster import NodeNameInUse
from quiz_actors.cluster.database import ClusterDatabase
from quiz_actors.cluster.fencing import RoomLease
from quiz_actors.cluster.leases import LeaseKeeper, LeaseTable, renewed_elsewhere
from quiz_actors.cluster.lockout import SharedJoinGuard
from quiz_actors.cluster.placement import DirectoryRefresh, Placement
from quiz_actors.cluster.schema import open_store
from quiz_actors.settings import Settings

log = logging.getLogger(__name__)


class ClusterNode:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.name = settings.node_name
        self.database = ClusterDatabase(settings.store)
        self.leases = LeaseTable(self.database, self.name, settings.lease_ttl_s)
        self.keeper = LeaseKeeper(self.leases, settings.lease_ttl_s, settings.lease_renew_s, self._lost)
        self.placement = Placement(self.name, self.leases, self.keeper)
        self.directory_refresh = DirectoryRefresh()
        self.room_sockets = RoomSockets()  # which sockets are in which room, for ``_lost``
        self._hub: pykka.ActorRef[Any] | None = None

    def open_store(self, observer: Any = None) -> EventStore:
        return open_store(self.database, self.settings.store, observer)

    def refuse_if_name_in_use(self) -> None:
        """Before this node takes any room: raise ``NodeNameInUse`` if another running process
        renews leases under this node's name. A node may retake its own rooms at once (a
        restart), so two processes sharing a name would take each other's rooms, and their
        players would be sent to reconnect each time. (One that serves no room yet is not
        seen here: it is, as it takes one, by ``LeaseKeeper.renew_once``.)"""
        # Any node renews at least every half TTL (Settings.problems): a little longer than
        # that sees a renewal of the other process's, whatever its own --lease-renew-s.
        wait_s = max(self.settings.lease_renew_s * 1.5, self.settings.lease_ttl_s / 2 + 0.2)
        if renewed_elsewhere(self.leases, wait_s):
            raise NodeNameInUse(
                f"another process is running as cluster node {self.name!r}: leases of that name were "
                f"renewed within the last {wait_s:.1f} s. Give each node its own --node-id (the name of "
                "its server line in HAProxy's configuration), or stop the other process first"
            )

    def start(self, hub: pykka.ActorRef[Any]) -> None:
        """Start renewing leases; a lost one is told to ``hub`` as ``LeaseLost``."""
        self._hub = hub
        self.keeper.start()
        log.info(
            "cluster node %s: leases of %.1f s renewed every %.1f s",
            self.name,
            self.settings.lease_ttl_s,
            self.settings.lease_renew_s,
        )

    def join_guard(self) -> SharedJoinGuard:
        s = self.settings
        return SharedJoinGuard(
            self.database,
            s.joins_per_ip_per_minute,
            s.failed_joins_per_ip,
            int(s.failed_join_lockout_s * 1000),
            s.member_joins_per_minute,
        )

    def lease(self, room_id: str, epoch: int) -> RoomLease:
        return RoomLease(
            self.name,
            epoch,
            still_held=lambda: self.leases.holds(room_id, epoch),
            holder=lambda: self._holder(room_id),
            kept=lambda: self.keeper.epoch_of(room_id) == epoch,
            found_lost=lambda same_name: self.keeper.found_lost(room_id, epoch, same_name),
        )

    def _holder(self, room_id: str) -> tuple[str, int] | None:
        owner = self.leases.owner(room_id)
        return None if owner is None else (owner.node, owner.epoch)

    def let_go(self) -> None:
        """At shutdown, once the rooms have stopped: other nodes may take them at once."""
        self.keeper.stop()
        self.keeper.release_all()
        self.database.close()

    def _lost(self, room_id: str, epoch: int) -> None:
        """On the lease keeper's thread: close the room's sockets (1012) now, then have the
        hub stop the room. Not through the room actor: its thread may be held in a save
        that retries for seconds (the database unreachable), and the sockets must close
        before the lease can expire and another node take the room."""
        if self.keeper.epoch_of(room_id) is None:  # not started here again under a newer lease
            for conn in self.room_sockets.in_room(room_id):
                tell_quietly(conn, CloseIfInRoom(room_id, protocol.CLOSE_SERVICE_RESTART, "room moved"))
        if self._hub is not None:
            tell_quietly(self._hub, LeaseLost(room_id, epoch))
