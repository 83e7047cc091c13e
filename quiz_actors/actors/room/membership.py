"""Who is in a room and who may come in, until the room closes.

Joins (decided at once, saved by the group commit), a member's connection
attaching and detaching, going offline, leaving, being kicked; the host's
lock and the lock a room puts on itself against a join flood; and the room
closing when nobody has used it for a while. The game itself is ``game.py``:
a member going away may close a question everybody else has answered.
"""

from __future__ import annotations

import logging
from collections import deque
from typing import Any

from pykka import ActorRef

from quiz_actors import protocol, views, wire
from quiz_actors.actors.delivery import tell_quietly
from quiz_actors.actors.messages import (
    AttachedToRoom,
    CleanupDue,
    CloseSocket,
    DetachedFromRoom,
    FloodLockDue,
    HostRoomCreated,
    Join,
    JoinAsNewcomer,
    MemberDisconnected,
    RoomCommand,
    RoomWasClosed,
    Sender,
)
from quiz_actors.actors.room.audience import Audience
from quiz_actors.actors.room.game import Game
from quiz_actors.actors.room.saving import Saving
from quiz_actors.actors.room.timers import RoomTimers
from quiz_actors.actors.unsaved import Broadcast
from quiz_actors.clock import Clock
from quiz_actors.domain.errors import RoomError
from quiz_actors.domain.room import CLOSED, ENDED, FLOOD_LOCK, Room
from quiz_actors.settings import Settings
from quiz_actors.tokens import SeatSigner

log = logging.getLogger(__name__)

JOIN_BURST_WINDOW_MS = 10_000


class Membership:
    def __init__(
        self,
        *,
        room: ActorRef[Any],
        hub: ActorRef[Any],
        clock: Clock,
        settings: Settings,
        seats: SeatSigner,
        member_list: views.MemberList,
        audience: Audience,
        saving: Saving,
        timers: RoomTimers,
        game: Game,
    ) -> None:
        self._room = room  # the room actor: connections attach to it
        self._hub = hub
        self._clock = clock
        self._settings = settings
        self._seats = seats
        self._member_list = member_list
        self._audience = audience
        self._saving = saving
        self._timers = timers
        self._game = game
        self._recent_joins: deque[int] = deque()  # times of the latest new members

    # ------------------------------------------------------------- coming in

    def on_host_created(self, room: Room, message: HostRoomCreated) -> None:
        sender = message.sender
        self.attach(room, sender)
        self._audience.reply(sender, views.room_created(room), message.ref)
        self._audience.add(sender, self.state_of(room, sender.user_id))

    def on_join(self, room: Room, message: Join) -> None:
        sender, ref = message.sender, message.ref
        if room.phase == CLOSED:
            self._audience.reply(sender, wire.room_not_found(room.code), ref)
            return
        if message.on_seat and sender.user_id not in room.members:
            # A seat outlives a membership (a player who left, a code used again): this
            # join comes in as a newcomer, and the hub counts it as one first.
            tell_quietly(self._hub, JoinAsNewcomer(message, self._room))
            return
        try:
            outcome = room.join(
                sender.user_id, message.name, self._clock.now_ms(), self._settings.max_players
            )
        except RoomError as e:
            self._audience.error(sender, e, ref)
            return
        # The messages are built now, with this join's seq and count; they go out after the commit.
        unsaved = self._saving.unsaved
        if outcome == "joined":
            joined = views.member_joined(room, sender.user_id)
            unsaved.broadcasts.append(Broadcast(joined, but=sender.user_id, members=len(room.members)))
            self._lock_against_join_flood(room)
        elif outcome == "rejoined":
            online = views.member_online(room, sender.user_id)
            unsaved.broadcasts.append(Broadcast(online, but=sender.user_id, members=len(room.members)))
        unsaved.joiners.append((sender, ref))  # "attached" too: its state must not show unsaved events
        self._saving.request_save()

    def _lock_against_join_flood(self, room: Room) -> None:
        """Too many new members at once: lock the room for a while and say why.

        Decided with the join that reached the limit, so the joins queued behind
        it are refused; the lock is saved and announced with them.
        """
        now, recent = self._clock.now_ms(), self._recent_joins
        recent.append(now)
        while recent and now - recent[0] > JOIN_BURST_WINDOW_MS:
            recent.popleft()
        if len(recent) >= self._settings.room_join_burst and room.lock(None, FLOOD_LOCK, now):
            log.warning(
                "room %s locked itself: %s joins in %s s",
                room.code,
                len(recent),
                JOIN_BURST_WINDOW_MS // 1000,
            )
            self._saving.unsaved.broadcasts.append(Broadcast(views.lock_changed(room)))
            recent.clear()

    def joins_saved(self, room: Room, joiners: list[tuple[Sender, Any]]) -> None:
        """The room has heard of the joins already: each joiner's state holds every
        join of the batch, so it must not get their deltas."""
        for sender, ref in joiners:
            self.attach(room, sender)
            self._audience.add(sender, self.state_of(room, sender.user_id, ref))

    def state_of(self, room: Room, user_id: str, ref: Any = None) -> str:
        """The encoded ``state`` for an attached member: brief in a big room if it asked for
        summaries, with its seat, and for the host the players a restart's wait counts."""
        brief = self._audience.brief(user_id)
        seat = self._seats.seat(room.code, user_id)
        away = self._game.still_away(room, user_id)
        return views.state(room, user_id, self._member_list, ref, brief, seat, still_away=away)

    def attach(self, room: Room, sender: Sender) -> None:
        # The host's lobby screen lists every member by name: it always hears each change.
        self._audience.attach(sender, summaries=sender.summaries and not room.is_host(sender.user_id))
        attached = AttachedToRoom(str(room.id), self._room, room.is_host(sender.user_id))
        if not tell_quietly(sender.conn, attached):
            # The socket closed while this join was on its way: it left no-one to
            # tell us, so the member goes offline now rather than stay a ghost.
            # (Quietly: when the room is stopping, on_stop saves decided joins and
            # its own mailbox is closed; the next activation marks them offline.)
            tell_quietly(self._room, MemberDisconnected(sender, "disconnected"))

    # ------------------------------------------------------------- going away

    def detach(self, room: Room, user_id: str) -> None:
        sender = self._audience.detach(user_id)
        if sender is not None:
            tell_quietly(sender.conn, DetachedFromRoom(str(room.id)))

    def on_disconnected(self, room: Room, message: MemberDisconnected) -> None:
        user_id = message.sender.user_id
        current = self._audience.attached.get(user_id)
        if current is None or current.conn_id != message.sender.conn_id:
            return  # an older socket of a member who has a newer one
        self._audience.detach(user_id)
        if room.go_offline(user_id, message.reason, self._clock.now_ms()):
            self._saving.commit(room)
            self._audience.broadcast(views.member_offline(room, user_id), members=len(room.members))
            self._game.close_if_everyone_answered(room)
            self._timers.rearm(room)

    def mark_detached_offline(self, room: Room) -> None:
        """Members the store shows online but who have no socket here were left so
        by a stop or a crash (on activation, that is everyone)."""
        attached = self._audience.attached
        online = [u for u, m in room.members.items() if m["online"] and u not in attached]
        # They were last seen no later than the room's last event.
        for user_id in online:
            room.go_offline(user_id, "server_restart", room.last_event_at)
        if online:
            self._saving.commit(room)
            self._game.await_rejoins(room, online)

    def on_leave(self, room: Room, command: RoomCommand, ref: Any) -> None:
        sender = command.sender
        was_host = room.is_host(sender.user_id)
        room.leave(sender.user_id, self._clock.now_ms())
        self._saving.commit(room, failed=[(sender, ref)])
        self._audience.reply(sender, views.left(room), ref)
        self.detach(room, sender.user_id)
        if was_host:
            self._audience.broadcast(views.member_offline(room, sender.user_id))
        else:
            self._audience.broadcast(views.member_left(room, sender.user_id), members=len(room.members))
        self._game.close_if_everyone_answered(room)
        self._timers.rearm(room)

    def on_kick(self, room: Room, command: RoomCommand, ref: Any) -> None:
        target = command.message["user_id"]
        room.kick(command.sender.user_id, target, self._clock.now_ms())
        self._saving.commit(room, failed=[(command.sender, ref)])
        victim = self._audience.attached.get(target)
        if victim is not None:
            self._audience.reply(victim, views.kicked(room))
            self.detach(room, target)
            self._audience.send()  # `kicked` must reach the socket before the close does
            tell_quietly(victim.conn, CloseSocket(protocol.CLOSE_KICKED, "kicked"))
        self._audience.broadcast(views.member_kicked(room, target))
        self._game.close_if_everyone_answered(room)
        self._timers.rearm(room)

    # ------------------------------------------------------------- locks

    def on_lock(self, room: Room, command: RoomCommand, ref: Any) -> None:
        changed = room.lock(command.sender.user_id, "host", self._clock.now_ms())
        self._lock_changed(room, changed, command.sender, ref)

    def on_unlock(self, room: Room, command: RoomCommand, ref: Any) -> None:
        changed = room.unlock(command.sender.user_id, self._clock.now_ms())
        self._lock_changed(room, changed, command.sender, ref)

    def _lock_changed(self, room: Room, changed: bool, sender: Sender, ref: Any) -> None:
        if changed:
            self._saving.commit(room, failed=[(sender, ref)])
            self._audience.broadcast(views.lock_changed(room))
        self._timers.rearm(room)

    def on_flood_lock_due(self, room: Room, _: FloodLockDue) -> None:
        if room.locked and room.lock_reason == FLOOD_LOCK:
            now = self._clock.now_ms()
            if now < self._timers.flood_lock_ends_at(room):
                self._timers.rearm(room)
                return
            room.lift_flood_lock(now)
            self._saving.commit(room)
            self._audience.broadcast(views.lock_changed(room))
        self._timers.rearm(room)

    # ------------------------------------------------------------- name rules

    def on_set_name_rules(self, room: Room, command: RoomCommand, ref: Any) -> None:
        message = command.message
        changed = room.set_name_rules(
            command.sender.user_id,
            message.get("word_filter"),
            message.get("friendly_names"),
            self._clock.now_ms(),
        )
        if changed:  # as with a lock, asking for the rules the room has changes nothing
            self._saving.commit(room, failed=[(command.sender, ref)])
            self._audience.broadcast(views.name_rules_changed(room))

    # ------------------------------------------------------------- closing

    def on_cleanup_due(self, room: Room, _: CleanupDue) -> None:
        due, now = self._timers.cleanup_due_at(room), self._clock.now_ms()
        if due is None or now < due:
            self._timers.rearm(room)
            return
        reason = "inactive" if room.phase == ENDED else "abandoned"
        room.close(reason, now)
        self._saving.commit(room)
        # The hub hears it before anyone else does: whatever a client does on hearing
        # `room_closed` (a new room, a join with that code) reaches the hub after the
        # code is free. The hub's stop waits in the mailbox until this turn is over.
        self._hub.tell(RoomWasClosed(str(room.id), room.code))
        self._audience.broadcast(views.room_closed(room, reason))
        for user_id in list(self._audience.attached):
            self.detach(room, user_id)
        log.info("room %s (%s) closed: %s", room.code, room.id, reason)
