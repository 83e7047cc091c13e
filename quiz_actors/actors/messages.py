"""The messages actors tell each other: plain, immutable data.

Naming: commands are imperative (``JoinRoom``), notifications are past tense
(``SocketClosed``). Actor references travel only where the receiver must reply
to someone (a room replies to a connection).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

from pykka import ActorRef

from quiz_actors.protocol import Batch

# ---------------------------------------------------------------- bridge -> connection


@dataclass(frozen=True)
class ClientMessage:
    """A checked client message and when the server received it."""

    message: dict[str, Any]
    received_at: int


@dataclass(frozen=True)
class SocketClosed:
    pass


@dataclass(frozen=True)
class HeartbeatDue:
    pass


# ---------------------------------------------------------------- room/hub -> connection


class Deliver(NamedTuple):
    """Pre-encoded messages for the socket, in order, and the room they come from.

    A tuple rather than a frozen dataclass like its neighbours: a reveal makes
    one per member, and a tuple is built in a third of the time."""

    batch: Batch
    room_id: str | None = None


@dataclass(frozen=True)
class AttachedToRoom:
    room_id: str
    room: ActorRef[Any]
    is_host: bool


@dataclass(frozen=True)
class DetachedFromRoom:
    room_id: str


@dataclass(frozen=True)
class CloseSocket:
    code: int
    reason: str


@dataclass(frozen=True)
class CloseIfInRoom:
    """Close the socket, but only if it is still attached to ``room_id``: cluster mode,
    the lease keeper closing a room's sockets from its own thread (one that has joined
    another room since must stay open). The socket leaves the room without a disconnect
    to save: the room stops serving here, and its next owner marks the member offline."""

    room_id: str
    code: int
    reason: str


@dataclass(frozen=True)
class Replaced:
    pass


# ---------------------------------------------------------------- connection -> hub


@dataclass(frozen=True)
class Sender:
    """Who sent a command, and where replies go."""

    user_id: str
    conn_id: int
    conn: ActorRef[Any] = field(compare=False)
    ip: str = field(default="", compare=False)
    # The socket's latest join asked for membership summaries in a big room
    # (``"membership":"summary"``): the room remembers it when it attaches the socket.
    summaries: bool = field(default=False, compare=False)


@dataclass(frozen=True)
class RegisterConnection:
    sender: Sender


@dataclass(frozen=True)
class UnregisterConnection:
    sender: Sender


@dataclass(frozen=True)
class CreateRoom:
    sender: Sender
    quiz_id: str
    name: str
    ref: Any
    word_filter: bool = True
    friendly_names: bool = False


@dataclass(frozen=True)
class JoinRoom:
    sender: Sender
    code: str
    name: str
    ref: Any
    hint: str | None = None  # cluster mode: the node the socket was sent to (``/ws?node=``)
    seat: str | None = None  # the member's seat in this room, if it has been in it (tokens.SeatSigner)


# ---------------------------------------------------------------- hub/connection -> room


@dataclass(frozen=True)
class Join:
    sender: Sender
    name: str
    ref: Any
    # Its seat let it past its address's join rate, which is for newcomers: the room lets
    # it in only as one of its members, and sends anyone else back (``JoinAsNewcomer``).
    on_seat: bool = False


@dataclass(frozen=True)
class JoinAsNewcomer:
    """Room -> hub: a join on a seat whose user is not (or no longer) a member, say one
    that left: it counts towards its address's join rate, and comes back if allowed."""

    join: Join
    room: ActorRef[Any]


@dataclass(frozen=True)
class HostRoomCreated:
    sender: Sender
    ref: Any


@dataclass(frozen=True)
class RoomCommand:
    """A member's command for its room: leave, resync, start, answer…"""

    sender: Sender
    message: dict[str, Any]
    received_at: int


@dataclass(frozen=True)
class MemberDisconnected:
    sender: Sender
    reason: str  # "disconnected", "timeout", "replaced", "switched"


# ---------------------------------------------------------------- timers -> room / hub


@dataclass(frozen=True)
class DeadlineDue:
    index: int


@dataclass(frozen=True)
class CleanupDue:
    pass


@dataclass(frozen=True)
class ProgressDue:
    pass


@dataclass(frozen=True)
class RejoinGraceDue:
    """The players a restart left offline in an open question have had their time to come back."""

    index: int  # the question they were awaited in
    until_ms: int  # the end of the wait this timer was armed for (a later wait may replace it)


@dataclass(frozen=True)
class SaveDecided:
    """The room to itself: store the answers and joins decided since the last commit."""


@dataclass(frozen=True)
class FloodLockDue:
    pass


@dataclass(frozen=True)
class ReleaseFanout:
    pass


@dataclass(frozen=True)
class RecoveryDue:
    pass


@dataclass(frozen=True)
class HeartbeatTick:
    pass


@dataclass(frozen=True)
class SweepDue:
    pass


@dataclass(frozen=True)
class SweepRooms:
    """Hub -> sweeper: find which of these rooms (not in the hub's memory) are closed or due
    to close. ``rooms``: (code, room id) pairs; ``now_ms``: the clock's now."""

    rooms: tuple[tuple[str, str], ...]
    now_ms: int


@dataclass(frozen=True)
class RoomsSwept:
    """Sweeper -> hub: what the store says of the rooms it was given. ``closed``: (room id,
    code) of rooms already closed whose code is still assigned; ``due``: ids of rooms whose
    cleanup time has passed and that no other node holds."""

    closed: tuple[tuple[str, str], ...] = ()
    due: tuple[str, ...] = ()


# ---------------------------------------------------------------- room -> hub


@dataclass(frozen=True)
class RoomWasClosed:
    room_id: str
    code: str


# ---------------------------------------------------------------- cluster mode (docs/cluster.md)


@dataclass(frozen=True)
class RetryJoin:
    """A join the hub put off: until the directory is read again (a code this node did
    not know), or until a dead owner's lease expires. ``arrived``: time.monotonic()."""

    join: JoinRoom
    arrived: float
    owner_expired_by: float | None = None  # a dead owner's lease end as last seen (time.monotonic())


@dataclass(frozen=True)
class RetryCreateRoom:
    """Cluster mode: a new room whose save lost the race for the directory's next version
    to another node. Tried again after a short random pause, until ``first_tried_ms`` (the
    clock's now_ms) is ``CREATE_RETRY_FOR_MS`` old."""

    create: CreateRoom
    first_tried_ms: int
    attempt: int


@dataclass(frozen=True)
class LeaseLost:
    """This node no longer holds (or can no longer vouch for) the room's lease."""

    room_id: str
    # The lease lost. A room stopped for a lost lease says so too, later: by then a join may
    # have started the room here again under a new lease, which this must not stop.
    epoch: int


HANDED_OVER = "drain: handed over"  # StopServing's reason when a drain hands the room over


@dataclass(frozen=True)
class StopServing:
    """Close the room's sockets with 1012 and stop. The lease is lost: nothing more is
    saved. A drain hands the room over (``save_first``): what is decided is saved first."""

    reason: str
    save_first: bool = False
