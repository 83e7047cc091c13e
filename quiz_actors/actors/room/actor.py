"""The room actor: the single writer of one room.

For every message it decides (the Room aggregate's command methods check the
rules and trigger events), saves the new events, and only after the save
commits does it acknowledge and broadcast. If a save fails, the in-memory
aggregate is already ahead of the store, so it is thrown away (the actor is
``Recovering``) and rebuilt by replay, and the clients whose commands were
lost hear ``busy``.

Answers and joins are group-committed (``unsaved.py``): each is decided at
once, but saved by a ``SaveDecided`` message the actor sends itself, so every
answer and join already queued behind the first is saved in the same commit,
or sooner when that commit is full or its first decision has waited long
enough (``saving.py``). One with nothing queued behind it is saved as its own
message ends.
Any other message first saves what is waiting, so nothing is ever decided on
top of events that are not stored.

The actor holds the room's state and routes each message through a handler
table to the part that owns it, always with a loaded ``Room``: ``membership``
(who is in), ``game`` (questions and answers), ``saving`` (commits),
``audience`` (sending) and ``timers``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from uuid import UUID

import pykka

from eventstore import EventStore
from quiz_actors import logs, metrics, protocol, views, wire
from quiz_actors.actors.delivery import tell_quietly
from quiz_actors.actors.messages import (
    HANDED_OVER,
    CleanupDue,
    CloseIfInRoom,
    CloseSocket,
    DeadlineDue,
    FloodLockDue,
    HostRoomCreated,
    Join,
    LeaseLost,
    MemberDisconnected,
    ProgressDue,
    RecoveryDue,
    RejoinGraceDue,
    ReleaseFanout,
    RoomCommand,
    RoomWasClosed,
    SaveDecided,
    StopServing,
)
from quiz_actors.actors.pooled import PooledActor
from quiz_actors.actors.room.audience import Audience
from quiz_actors.actors.room.game import HOST_STEPS, Game
from quiz_actors.actors.room.membership import Membership
from quiz_actors.actors.room.saving import SaveFailed, Saving
from quiz_actors.actors.room.timers import RoomTimers
from quiz_actors.clock import Clock
from quiz_actors.domain.errors import RoomError
from quiz_actors.domain.room import CLOSED, Room
from quiz_actors.settings import Settings
from quiz_actors.tokens import SeatSigner

if TYPE_CHECKING:
    from quiz_actors.cluster.fencing import RoomLease

log = logging.getLogger(__name__)

TAKEOVER_ATTEMPTS = 5  # cluster mode: a former owner's last save may land between load and takeover

ROOM_WORKERS = 4  # threads all room actors take turns on: a store call that stalls holds one


@dataclass(frozen=True)
class Loaded:
    """The room is in memory and every event it applied is stored (or waits in ``unsaved``)."""

    room: Room


@dataclass(frozen=True)
class Recovering:
    """The store failed a save or a load: nothing is decided until a replay succeeds."""


RECOVERING = Recovering()
RoomState = Loaded | Recovering

# After a load that failed, the messages handled this soon are refused at once
# (busy: the store cannot be reached) instead of each trying a load of its own. With
# the database down a load gives up after ~3 s (eventstore/persistence.py,
# POSTGRES_RETRY_S), and everything the room's players sent meanwhile has queued
# behind it: tried one by one, thirty of them would hold one of the rooms' worker
# threads for minutes, and the last player would hear busy only after every load
# before its own. Those queued messages are handled within milliseconds of the
# failure, so a short pause covers them; a message after it tries again (so a join
# just after the database is back is not refused for long). Wall-clock seconds.
LOAD_RETRY_AFTER_S = 0.5

Handler = Callable[[Room, Any], None]
CommandHandler = Callable[[Room, RoomCommand, Any], None]


def _always(_: object) -> bool:
    return True


def _is_answer(command: RoomCommand) -> bool:
    kind: object = command.message["type"]
    return kind == "answer"


# Messages saved by the group commit instead of first saving what is decided.
GROUP_COMMITTED: dict[type, Callable[[Any], bool]] = {
    SaveDecided: _always,
    Join: _always,
    RoomCommand: _is_answer,
}


class RoomActor(PooledActor):
    # Rooms save to the store (blocking I/O), so never on the event loop; but an
    # idle room must not hold a thread: they take turns on a few threads of their own.
    pool_name, pool_workers = "rooms", ROOM_WORKERS

    def __init__(
        self,
        room_id: UUID,
        store: EventStore,
        clock: Clock,
        settings: Settings,
        seats: SeatSigner,
        hub: pykka.ActorRef[Any],
        created: Room | None = None,
        lease: RoomLease | None = None,
    ) -> None:
        super().__init__()
        self.room_id = room_id
        self.store = store
        self.hub = hub
        self.clock = clock
        self.lease = lease  # cluster mode: the lease this node serves the room under; else None
        self.stopped_serving = False
        self.state: RoomState = RECOVERING if created is None else Loaded(created)
        self.load_failed_at: float | None = None  # time.monotonic() of the last failed load
        me = self.actor_ref
        self.member_list = views.MemberList()
        self.timers = RoomTimers(clock, settings, me)
        self.audience = Audience(str(room_id), settings, self.timers)
        self.saving = Saving(room_id, store, self.member_list, self.audience, self.timers, me, settings)
        self.game = Game(clock, self.audience, self.saving, self.timers, settings.rejoin_grace_s)
        self.membership = Membership(
            room=me,
            hub=hub,
            clock=clock,
            settings=settings,
            seats=seats,
            member_list=self.member_list,
            audience=self.audience,
            saving=self.saving,
            timers=self.timers,
            game=self.game,
        )
        self._build_tables()

    def _build_tables(self) -> None:
        # Per actor, of bound methods: there is one room actor per open room.
        timers, membership, game = self.timers, self.membership, self.game
        # A timer's (or the group commit's) message has arrived: it is no longer pending.
        self.arrivals: dict[type, Callable[[Any], None]] = {
            SaveDecided: self.saving.save_request_arrived,
            DeadlineDue: timers.deadline_fired,
            CleanupDue: timers.cleanup_fired,
            ProgressDue: timers.progress_fired,
            FloodLockDue: timers.flood_lift_fired,
            RejoinGraceDue: timers.rejoin_grace_fired,
            ReleaseFanout: self._fanout_window_closed,
        }
        self.handlers: dict[type, Handler] = {
            Join: membership.on_join,
            HostRoomCreated: membership.on_host_created,
            RoomCommand: self._on_command,
            MemberDisconnected: membership.on_disconnected,
            SaveDecided: self._save_decided,
            DeadlineDue: game.on_deadline,
            CleanupDue: membership.on_cleanup_due,
            ProgressDue: game.send_progress,
            FloodLockDue: membership.on_flood_lock_due,
            RejoinGraceDue: game.rejoin_grace_ended,
            RecoveryDue: self._recovered,
        }
        self.commands: dict[str, CommandHandler] = {
            "answer": game.on_answer,
            "resync": self._resync,
            "leave": membership.on_leave,
            "kick": membership.on_kick,
            "lock": membership.on_lock,
            "unlock": membership.on_unlock,
            "set_name_rules": membership.on_set_name_rules,
            **{step: game.on_host_step for step in HOST_STEPS},
        }

    @property
    def room(self) -> Room | None:
        """The room in memory, None while recovering: for onlookers such as a test's
        proxy. Handlers never read it: they are handed the loaded room."""
        return self.state.room if isinstance(self.state, Loaded) else None

    # ------------------------------------------------------------- life cycle

    def _run_turn(self) -> None:
        # Rooms take turns on a few shared threads: whatever is logged during this
        # room's turn (its start and stop too) names this room, and only this one.
        with logs.bound(room_id=self.room_id):
            super()._run_turn()

    def on_start(self) -> None:
        if isinstance(self.state, Loaded):
            self.timers.rearm(self.state.room)
        else:
            self._recover()

    def on_late_message(self, message: object) -> None:
        """A message that reached the room as it stopped: pykka would drop it.

        A joiner (not attached yet) would wait for an answer that never comes: it hears
        that a closed room is gone, or else is sent to reconnect (1012), which takes it
        to wherever the room is now (moved, handed over in a drain, started again after
        an idle stop). A member's command to a room that stopped serving here closes
        its socket as the room's own stop did, if it is still in this room. Anything
        else stays dropped: a socket that left for another room must stay open, and a
        closed room's members have heard that it closed.
        """
        if type(message) is Join or type(message) is HostRoomCreated:
            state = self.state
            if type(message) is Join and isinstance(state, Loaded) and state.room.phase == CLOSED:
                self.audience.reply(message.sender, wire.room_not_found(state.room.code), message.ref)
                self.audience.send()
            else:
                tell_quietly(message.sender.conn, CloseSocket(protocol.CLOSE_SERVICE_RESTART, "room stopped"))
        elif type(message) is RoomCommand and self.stopped_serving:
            close = CloseIfInRoom(str(self.room_id), protocol.CLOSE_SERVICE_RESTART, "room moved")
            tell_quietly(message.sender.conn, close)

    def on_stop(self) -> None:
        if isinstance(self.state, Loaded) and not self.stopped_serving:
            try:
                self._save_decided(self.state.room)  # decided answers and joins are stored and acknowledged
            except SaveFailed:
                self.state = RECOVERING
        self.timers.cancel_all()
        self.audience.release_deferred()
        self.audience.send()

    def _recover(self) -> RoomState:
        """(Re)build the room by replay; still Recovering while the store cannot be read."""
        self.state = RECOVERING
        self.member_list.forget()
        try:
            room = self._replay()
            if self.lease is not None:
                claimed = self._claim(room)
                if claimed is None:
                    return self.state  # another node took the room over: this one has stopped serving it
                room = claimed
        except Exception:
            log.exception(
                "room %s: cannot load from the store; will retry on a message %.1f s from now or later",
                self.room_id,
                LOAD_RETRY_AFTER_S,
            )
            self.load_failed_at = time.monotonic()
            metrics.ROOM_LOAD_FAILURES.inc()
            return self.state
        self.load_failed_at = None
        try:
            self.membership.mark_detached_offline(room)
            self.game.close_question_past_deadline(room)
        except SaveFailed:
            return self.state
        self.state = Loaded(room)
        if room.phase == CLOSED:
            self.hub.tell(RoomWasClosed(str(self.room_id), room.code))
        # After a failed save, members still here may have missed changes: a fresh
        # state puts each of them back in step.
        for user_id, sender in self.audience.attached.items():
            self.audience.add(sender, self.membership.state_of(room, user_id))
        self.timers.rearm(room)
        return self.state

    def _claim(self, room: Room) -> Room | None:
        """Cluster mode: the room with this node's takeover stored (fencing out any former
        owner's later saves); None, having stopped serving it, if a newer lease took it."""
        lease = self.lease
        assert lease is not None
        for _ in range(TAKEOVER_ATTEMPTS):
            if lease.fenced_out(room):
                lease.found_lost(lease.taken_under_this_name(room.owner()))
                self._stop_serving(f"taken over by node {room.owner()}")
                return None
            if not lease.needs_takeover(room):
                return room
            former = room.owner()
            room.take_over(lease.node, lease.epoch, self.clock.now_ms())
            try:
                self.store.save(room)
                metrics.TAKEOVERS.inc()
                log.info(
                    "room %s (%s): taken over by this node from %s (lease epoch %s)",
                    room.code,
                    self.room_id,
                    f"node {former[0]}" if former else "the node that created it",
                    lease.epoch,
                )
                return room
            except Exception:
                log.warning("room %s: takeover save failed; reading the room again", self.room_id)
                room = self._replay()  # the former owner's last save landed first: take it in
        raise RuntimeError(f"room {self.room_id}: could not store its takeover")

    def _stop_serving(self, reason: str) -> None:
        """Cluster mode: this node no longer holds the room's lease. Its members are
        sent to reconnect (1012: the client reconnects at once, through HAProxy, to the
        room's new owner); nothing more is saved here."""
        if self.stopped_serving:
            return
        self.stopped_serving = True
        # A drain's hand-over is routine; a lost lease is worth an operator's look.
        level = logging.INFO if reason == HANDED_OVER else logging.WARNING
        code = self.state.room.code if isinstance(self.state, Loaded) else "not loaded"
        log.log(level, "room %s (%s): stops serving on this node (%s)", code, self.room_id, reason)
        self.saving.take_unsaved()  # never saved here (lease lost): their senders reconnect and send again
        for sender in list(self.audience.attached.values()):
            tell_quietly(sender.conn, CloseSocket(protocol.CLOSE_SERVICE_RESTART, "room moved"))
        self.state = RECOVERING
        if self.lease is not None:  # always, in cluster mode: the only mode that stops serving
            self.hub.tell(LeaseLost(str(self.room_id), self.lease.epoch))
        self.stop()

    def _lease_lost_after_failed_save(self) -> bool:
        """Cluster mode, after a failed save: does this node still hold the room's lease?"""
        if self.lease is None:
            return False
        if self._lease_given_up():  # the keeper knows already: no query (the database may hang)
            self._stop_serving("lease lost (a save failed)")
            return True
        try:
            held = self.lease.still_held()
        except Exception:
            log.warning("room %s: cannot read its lease after a failed save", self.room_id)
            return False  # the store's version check still fences any other owner
        if not held:
            self.lease.found_lost(self._taken_under_this_name())
            self._stop_serving("lease lost (a save failed)")
        return not held

    def _taken_under_this_name(self) -> bool:
        """Cluster mode, the lease found gone: was it taken by a process running under this
        node's own name? (One more question to the lease table; a failure says no.)"""
        assert self.lease is not None
        try:
            return self.lease.taken_under_this_name(self.lease.holder())
        except Exception:
            return False

    def _lease_given_up(self) -> bool:
        """Cluster mode: this node's lease keeper no longer holds the room's lease. Not
        for a closed room: the hub releases its lease as it stops it, and the messages
        still queued hear what a closed room says, not ``busy``."""
        if self.lease is None or self.lease.kept():
            return False
        return not (isinstance(self.state, Loaded) and self.state.room.phase == CLOSED)

    def _replay(self) -> Room:
        room = self.store.load(self.room_id)
        if not isinstance(room, Room):
            raise LookupError(f"room {self.room_id} is not in the store")
        return room

    # ------------------------------------------------------------- dispatch

    def on_receive(self, message: object) -> None:
        if type(message) is StopServing:
            if message.save_first and isinstance(self.state, Loaded):
                try:
                    self._save_decided(self.state.room)  # a hand-over: acknowledged before it goes
                except SaveFailed:
                    pass
                self.audience.send()
            self._stop_serving(message.reason)
            return
        if not self.stopped_serving and self._lease_given_up():
            # The keeper gave the lease up while this message waited (the database out
            # of reach, say): its StopServing is queued behind. Saving now could hold
            # this thread for the store's whole retry, once per waiting message, and
            # would store under a lease the node no longer vouches for.
            self._stop_serving("lease lost")
        if self.stopped_serving:
            self._refuse_busy(message)
            return
        arrived = self.arrivals.get(type(message))
        if arrived is not None:
            arrived(message)
        try:
            state = self._ready_for(message)
            if isinstance(state, Loaded):
                self._handle(state.room, message)
                if self.saving.batch_due():
                    self._save_decided(state.room)  # a bounded group commit: acks go out during a burst
            else:
                # The store is unreachable: acknowledge nothing, and say so in plain words.
                self._refuse_busy(message, wire.store_unreachable())
        except SaveFailed:
            self.state = RECOVERING  # those waiting heard busy; recovery is scheduled
            self._lease_lost_after_failed_save()
        except Exception:
            self._failed_on(message)
        finally:
            self.audience.send()
            if isinstance(self.state, Loaded):
                self.saving.snapshot_if_due(self.state.room)

    def _handle(self, room: Room, message: object) -> None:
        """The message's handler. One that fails (a bug) is logged and its sender told;
        what was decided before it is still saved, as after any message."""
        handler = self.handlers.get(type(message))
        if handler is None:
            return
        try:
            handler(room, message)
        except SaveFailed:
            raise
        except Exception:
            self._failed_on(message)

    def _failed_on(self, message: object) -> None:
        log.exception("room %s failed on %s", self.room_id, type(message).__name__)
        sender = getattr(message, "sender", None)
        if sender is not None:
            # Without the command's ref: an error with a ref says the command was refused
            # and changed nothing (clients undo what they showed), and here part of it may
            # have been decided, saved and acknowledged.
            self.audience.reply(sender, wire.internal_error())

    def _ready_for(self, message: object) -> RoomState:
        """The room loaded, with what is decided saved first unless ``message`` joins that commit."""
        state = self.state
        if isinstance(state, Recovering):
            failed_at = self.load_failed_at
            if failed_at is not None and time.monotonic() - failed_at < LOAD_RETRY_AFTER_S:
                return state  # refused at once: the last load failed a moment ago
            state = self._recover()
            if isinstance(state, Recovering):
                return state
        group_committed = GROUP_COMMITTED.get(type(message))
        if group_committed is None or not group_committed(message):
            try:
                self._save_decided(state.room)  # what is decided is saved before anything else
            except SaveFailed:
                return self._recover()
        return state

    def _refuse_busy(self, message: object, reply: wire.Message | None = None) -> None:
        """``busy`` to whoever sent ``message``: by default "could not store that"
        (``wire.save_failed``), which is what a room that stopped serving says."""
        sender = getattr(message, "sender", None)
        if sender is not None:
            refusal = reply if reply is not None else wire.save_failed()
            self.audience.reply(sender, refusal, getattr(message, "ref", None) or _ref_of(message))
        if type(message) is MemberDisconnected:
            # Not lost: the member has no socket any more, and recovery marks it offline.
            self.audience.detach(message.sender.user_id)

    def _fanout_window_closed(self, message: ReleaseFanout) -> None:
        self.timers.fanout_fired(message)
        self.audience.release_deferred()

    def _recovered(self, room: Room, _: RecoveryDue) -> None:
        """Nothing more: on_receive has already rebuilt the room if it needed to."""

    # ------------------------------------------------------------- the core: decide, save, reply

    def _save_decided(self, room: Room, _: SaveDecided | None = None) -> None:
        """Save every decided answer and join in one commit, then tell everyone.

        The room hears of the joins before the joiners attach: a joiner's state
        already holds every join of the batch, so it must not get their deltas.
        """
        unsaved = self.saving.take_unsaved()
        if not unsaved:
            return
        self.saving.commit(room, failed=unsaved.waiting())
        audience = self.audience
        for broadcast in unsaved.broadcasts:
            audience.broadcast(broadcast.message, but=broadcast.but, members=broadcast.members)
        for sender, ref, question in unsaved.answers:
            audience.reply(sender, wire.answer_accepted(question), ref)
        self.membership.joins_saved(room, unsaved.joiners)
        if unsaved.answers:
            self.game.answers_saved(room)
        self.timers.rearm(room)

    def _on_command(self, room: Room, command: RoomCommand) -> None:
        sender, message = command.sender, command.message
        kind, ref = message["type"], message.get("ref")
        if sender.user_id not in room.members or self.audience.attached.get(sender.user_id) != sender:
            self.audience.reply(sender, wire.not_in_room(), ref)
            return
        handler = self.commands.get(kind)
        if handler is None:
            self.audience.reply(sender, wire.not_a_room_command(kind), ref)
            return
        try:
            handler(room, command, ref)
        except RoomError as e:
            self.audience.error(sender, e, ref)

    def _resync(self, room: Room, command: RoomCommand, ref: Any) -> None:
        self.audience.add(command.sender, self.membership.state_of(room, command.sender.user_id, ref))


def _ref_of(message: object) -> Any:
    inner = getattr(message, "message", None)
    return inner.get("ref") if isinstance(inner, dict) else None
