"""Who is listening to a room, and how the room talks to them.

The room's attached connections (user id -> its current connection) and the
``Outgoing`` frames collected while the room handles one message. Every part
of the room replies, reports errors and broadcasts through here, so the rules
of sending live in one place: a broadcast is encoded once for every receiver,
and in a big room a membership change may wait for the fan-out window to
travel with the ones after it, and reach the players who asked for summaries
as one ``members_changed``.
"""

from __future__ import annotations

from typing import Any

from quiz_actors import protocol, wire
from quiz_actors.actors.messages import Sender
from quiz_actors.actors.outgoing import Outgoing
from quiz_actors.actors.room.timers import RoomTimers
from quiz_actors.domain.errors import RoomError
from quiz_actors.settings import Settings


class Audience:
    def __init__(self, room_id: str, settings: Settings, timers: RoomTimers) -> None:
        self.attached: dict[str, Sender] = {}  # user id -> its current connection
        self.out = Outgoing(self.attached, room_id)
        # Outgoing's own methods, bound once: they are on the path of every message.
        self.add = self.out.add  # an already encoded message for one connection
        self.to_each = self.out.to_each  # members' own messages, for their current connections
        self.send = self.out.send  # hand what was collected to the connections
        self.release_deferred = self.out.release_deferred  # the fan-out window closed
        self._coalesce_above = settings.fanout_coalesce_above
        self._timers = timers

    def attach(self, sender: Sender, summaries: bool = False) -> None:
        """``summaries``: the member hears of membership changes in a big room as
        ``members_changed`` (a player who asked for it; never the host)."""
        self.attached[sender.user_id] = sender
        self.out.attached_now(sender.user_id, summaries)

    def brief(self, user_id: str) -> bool:
        """Does this member's ``state`` leave the member list out (``views.state``)? A
        player who asked for summaries, in a big room."""
        return user_id in self.out.summarised and len(self.attached) >= self._coalesce_above

    def detach(self, user_id: str) -> Sender | None:
        self.out.detached(user_id)
        return self.attached.pop(user_id, None)

    # ------------------------------------------------------------- sending

    def reply(self, sender: Sender, message: dict[str, Any], ref: Any = None) -> None:
        self.out.add(sender, protocol.encode(protocol.with_ref(message, ref)))

    def error(self, sender: Sender, error: RoomError, ref: Any) -> None:
        self.reply(sender, wire.refused(error), ref)

    def broadcast(self, message: dict[str, Any], but: str | None = None, members: int | None = None) -> None:
        """Send to every attached member. ``members``: the message is a membership
        change and the room has that many members after it. In a big room such a
        change waits for the fan-out window, to travel with the ones after it, and
        members who asked for summaries get them all as one ``members_changed``."""
        text = protocol.encode(message)  # encoded once for every receiver
        if members is not None and len(self.attached) >= self._coalesce_above:
            self.out.defer(text, but, message["seq"], members)
            self._timers.arm_fanout(len(self.attached))
            return
        self.out.to_all(text, but)
