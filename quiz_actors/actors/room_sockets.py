"""Which connection actors are attached to which room on this node, readable from any thread.

Cluster mode only (docs/cluster.md, "Leases"): when this node can no longer vouch
for a room's lease, the lease keeper's thread closes the room's sockets itself. It
cannot wait for the room actor to do it: during a database outage the room's thread
may be inside a save that retries for seconds, past the moment another node may take
the room. So each connection says here when it enters and leaves a room
(``ConnectionActor._set_room``), and the keeper reads the room's connections from here.

A snapshot read here may name a connection that has just moved on: the keeper tells
each ``CloseIfInRoom``, and the connection closes only if it is still in that room.
"""

from __future__ import annotations

import threading
from typing import Any

import pykka


class RoomSockets:
    def __init__(self) -> None:
        self._rooms: dict[str, set[pykka.ActorRef[Any]]] = {}
        self._lock = threading.Lock()

    def moved(self, conn: pykka.ActorRef[Any], left: str | None, entered: str | None) -> None:
        """``conn`` left room ``left`` (None: it was in none) and entered ``entered`` (None: none)."""
        if left == entered:
            return
        with self._lock:
            if left is not None:
                members = self._rooms.get(left)
                if members is not None:
                    members.discard(conn)
                    if not members:
                        del self._rooms[left]
            if entered is not None:
                self._rooms.setdefault(entered, set()).add(conn)

    def in_room(self, room_id: str) -> list[pykka.ActorRef[Any]]:
        """The connections attached to ``room_id`` now (a copy: they move on meanwhile)."""
        with self._lock:
            return list(self._rooms.get(room_id, ()))

    def rooms(self) -> int:
        with self._lock:
            return len(self._rooms)
