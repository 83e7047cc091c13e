"""What a node does with a join for a room it does not have in memory.

* Nobody holds the room's lease (new node, expired, released), or this node
  does (restarted under the same name): take it, and serve the room here.
* Another node holds it: answer ``redirect`` to that node, through the same
  entry point with a node hint (``/ws?room=CODE&node=NODE``) that HAProxy honours.
* Another node holds it, and the socket came with a hint naming that very node:
  HAProxy did not honour the hint, so that node is down. Redirecting would send
  the client round in a loop; instead the join waits here until the dead
  owner's lease expires, and this node takes the room over.

Also here: the refresh of the room directory after a lookup miss, coalesced.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlencode

if TYPE_CHECKING:  # the hub imports this module in single-node mode too, which must not load psycopg
    from quiz_actors.cluster.leases import LeaseKeeper, LeaseTable

# A lookup miss reads the directory again at most this often, however many codes are guessed.
DIRECTORY_REFRESH_INTERVAL_S = 0.2
# While an owner's lease runs out, a waiting join looks again this often at most.
LEASE_POLL_S = 0.25


@dataclass(frozen=True)
class Serve:
    epoch: int


@dataclass(frozen=True)
class Redirect:
    node: str


@dataclass(frozen=True)
class Wait:
    seconds: float
    owner_expires: float | None = None  # time.monotonic() when the owner's lease runs out, as seen now


Decision = Serve | Redirect | Wait


class Placement:
    def __init__(self, node: str, leases: LeaseTable, keeper: LeaseKeeper):
        self.node = node
        self.leases = leases
        self.keeper = keeper
        # Set when the node drains: it has handed its rooms over and takes none. A join
        # that reaches it meanwhile waits for another node to take the room (HAProxy
        # cuts it once it marks this node down, and the client reconnects elsewhere).
        self.draining = False

    def route(self, room_id: str, hint: str | None, owner_expired_by: float | None = None) -> Decision:
        """``owner_expired_by``: for a join already waiting, when the owner's lease was
        to run out the last time it looked (time.monotonic())."""
        owner = self.leases.owner(room_id)
        if self.draining and (owner is None or owner.node == self.node):
            return Wait(LEASE_POLL_S)
        if owner is None or owner.node == self.node:
            epoch = self.keeper.acquire(room_id)
            if epoch is not None:
                return Serve(epoch)
            owner = self.leases.owner(room_id)  # another node took it just now
            if owner is None:
                return Wait(0.0)
        if hint == owner.node:
            expires = time.monotonic() + owner.seconds_left
            if owner_expired_by is not None and expires > owner_expired_by + LEASE_POLL_S:
                # The owner renewed its lease meanwhile: it is alive, and HAProxy sent the
                # client here for another reason (a check it failed under load). Redirect;
                # the client follows a few redirects at most, then backs off.
                return Redirect(owner.node)
            return Wait(min(LEASE_POLL_S, max(0.0, owner.seconds_left) + 0.02), expires)
        return Redirect(owner.node)


def redirect_url(code: str, node: str) -> str:
    """Where a client sent away reconnects: the same entry point, with the room and a node hint."""
    return "/ws?" + urlencode({"room": code, "node": node})


class DirectoryRefresh:
    """When a code this node does not know may read the directory again.

    Another node may have created the room since this node last read the
    directory, so a miss reads it again; but at most once per
    ``DIRECTORY_REFRESH_INTERVAL_S``: misses in between wait for that one read,
    so guessing codes costs the store a read or five a second, not one a guess.
    """

    def __init__(self) -> None:
        self.last = float("-inf")  # time.monotonic() of the last read

    def decide(self, arrived: float, now: float) -> float | None:
        """None: the miss is final (the directory was read since the join arrived);
        0: read it now (then call ``done``); else: seconds to wait for the next read."""
        if self.last >= arrived:
            return None
        wait = self.last + DIRECTORY_REFRESH_INTERVAL_S - now
        return 0.0 if wait <= 0 else wait

    def done(self, now: float) -> None:
        self.last = now
