"""Fencing: a node that takes a room over appends ``RoomTakenOver`` before it serves it.

The event takes the room's next version in the store, so every later save by
the former owner (which may still believe it owns the room: frozen, cut off,
slow to notice) fails on the store's version check. The room then replays,
finds a takeover with a newer epoch than its own lease, and stops; it never
reloads and carries on as a second owner. Acknowledgements only follow
commits, so nothing acknowledged is lost while two nodes briefly both believe
they own a room.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from quiz_actors.domain.room import Room


@dataclass(frozen=True)
class RoomLease:
    """The lease under which this node serves a room: its node name and epoch."""

    node: str
    epoch: int
    still_held: Callable[[], bool] = field(compare=False, repr=False)  # asks the lease table
    # Asks this node's lease keeper, in memory: False once the keeper has given the lease
    # up (not renewed in time, or renewed to another node). The room checks it before
    # each message, so nothing is saved under a lease the node no longer vouches for.
    kept: Callable[[], bool] = field(default=lambda: True, compare=False, repr=False)
    # Tells the keeper that the room found the lease gone itself (fenced out): it stops
    # renewing it and counts the loss (quiz_cluster_leases_lost_total{reason="fenced"},
    # or "same_name" when called with True: taken by a process running under this name).
    found_lost: Callable[[bool], None] = field(default=lambda same_name: None, compare=False, repr=False)
    # Asks the lease table who holds the room's lease now: (node, epoch), None if nobody.
    holder: Callable[[], tuple[str, int] | None] = field(default=lambda: None, compare=False, repr=False)

    def fenced_out(self, room: Room) -> bool:
        """True when the stored room was taken over under a newer lease than this one."""
        owner = room.owner()
        if owner is None:
            return False
        node, epoch = owner
        return epoch > self.epoch or (epoch == self.epoch and node != self.node)

    def taken_under_this_name(self, owner: tuple[str, int] | None) -> bool:
        """Whether ``owner`` (a stored takeover, or the lease's holder now) is this node's own
        name at a newer epoch: another process runs as this node (two share a --node-id)."""
        return owner is not None and owner[0] == self.node and owner[1] > self.epoch

    def needs_takeover(self, room: Room) -> bool:
        """True until this lease's takeover is in the room's events.

        Epoch 1 is the room's first lease ever (taken by the node that created it,
        or first after a single node's store became a cluster's): there is no
        former owner to fence out.
        """
        return self.epoch > 1 and room.owner() != (self.node, self.epoch)
