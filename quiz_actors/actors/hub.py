"""The hub: the room directory and the connection registry.

It knows which room holds which code (the ``RoomDirectory`` aggregate, of which
it is the only writer), which room actors are running, and which connection
speaks for which user. It creates rooms, routes joins, starts room actors on
demand (a room not in memory is rebuilt by replay), and drives the two
process-wide timers: heartbeats for every connection and the sweep that closes
rooms whose cleanup time passed while nobody was looking.
"""

from __future__ import annotations

import dataclasses
import logging
import random
import secrets
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pykka
from eventsourcing.persistence import IntegrityError, PersistenceError

from eventstore import EventStore
from quiz_actors import logs, metrics, protocol, wire
from quiz_actors.actors.delivery import tell_quietly
from quiz_actors.actors.join_guard import JoinGuard, JoinRefusal
from quiz_actors.actors.messages import (
    HANDED_OVER,
    CleanupDue,
    CloseSocket,
    CreateRoom,
    Deliver,
    HeartbeatDue,
    HeartbeatTick,
    HostRoomCreated,
    Join,
    JoinAsNewcomer,
    JoinRoom,
    LeaseLost,
    RegisterConnection,
    Replaced,
    RetryCreateRoom,
    RetryJoin,
    RoomsSwept,
    RoomWasClosed,
    Sender,
    StopServing,
    SweepDue,
    SweepRooms,
    UnregisterConnection,
)
from quiz_actors.actors.room import RoomActor
from quiz_actors.actors.room_quota import RoomQuota
from quiz_actors.actors.sweeper import RoomSweep, SweeperActor
from quiz_actors.clock import Clock, Timer
from quiz_actors.cluster.placement import Redirect, Serve, redirect_url
from quiz_actors.domain.directory import DIRECTORY_ID, RoomDirectory
from quiz_actors.domain.errors import RoomError
from quiz_actors.domain.quiz import Quiz
from quiz_actors.domain.room import Room
from quiz_actors.protocol import Batch
from quiz_actors.settings import Settings
from quiz_actors.tokens import SeatSigner

if TYPE_CHECKING:
    from quiz_actors.cluster.fencing import RoomLease
    from quiz_actors.cluster.node import ClusterNode

log = logging.getLogger(__name__)

# Cluster mode: every node saves the one room directory, so a new room's save can lose the
# race for its next version. A closed room's release tries again at once, up to this many times
# (the sweep releases it later if all fail).
CLOSE_ATTEMPTS = 20
# A new room tries again after a random pause, for up to this long. Pausing (through the
# mailbox, so joins go on meanwhile) rather than looping matters: the node that won holds the
# current directory and can win again and again while a looping loser reads it back each time.
CREATE_RETRY_FOR_MS = 10_000
CREATE_RETRY_PAUSE_S = (0.005, 0.05)  # the random pause's bounds; grows with each attempt, up to the top


class StoreUnavailable(Exception):
    pass


class HubActor(pykka.ThreadingActor):
    def __init__(
        self,
        store: EventStore,
        clock: Clock,
        settings: Settings,
        seats: SeatSigner,
        cluster: ClusterNode | None = None,
    ):
        super().__init__()
        self.store = store
        self.clock = clock
        self.settings = settings
        self.seats = seats  # a member's proof that it was let into a room: passes the join lockout
        self.cluster = cluster  # None: a single node, which serves every room itself
        self.directory: RoomDirectory | None = None
        self.rooms: dict[str, pykka.ActorRef[Any]] = {}  # room id -> running room actor
        self.connections: dict[str, Sender] = {}  # user id -> its newest connection
        self.join_guard = (
            cluster.join_guard()
            if cluster is not None
            else JoinGuard(
                joins_per_minute=settings.joins_per_ip_per_minute,
                failures_per_minute=settings.failed_joins_per_ip,
                lockout_ms=int(settings.failed_join_lockout_s * 1000),
                member_joins_per_minute=settings.member_joins_per_minute,
            )
        )
        self.room_quota = RoomQuota(settings.rooms_per_ip_per_minute)
        self.timers: list[Timer] = []
        self.sweeper: pykka.ActorRef[Any] | None = None  # reads the sweep off this thread
        self.sweeping = False  # a sweep is under way: the next waits for its RoomsSwept

    # ------------------------------------------------------------- life cycle

    def on_start(self) -> None:
        self.directory = self._load_directory()
        self._schedule(HeartbeatTick(), self.settings.heartbeat_s)
        # One RoomSweep (it remembers the rooms it read): used here once, then handed to
        # the sweeper, whose thread alone uses it from then on.
        sweep = RoomSweep(self.store, self.settings, self.cluster)
        self._sweep_now(sweep)
        self.sweeper = SweeperActor.start(sweep, self.actor_ref)
        self._schedule(SweepDue(), self.settings.sweep_interval_s)
        self._count_rooms()

    def on_stop(self) -> None:
        for timer in self.timers:
            timer.cancel()
        if self.sweeper is not None:
            self.sweeper.stop(block=False)  # a sweep under way finds nothing to tell
        for ref in list(self.rooms.values()):
            if ref.is_alive():
                ref.stop()
        self.rooms.clear()
        self._count_rooms()

    def _count_rooms(self) -> None:
        if self.directory is not None:
            metrics.ROOMS_OPEN.set(len(self.directory.open_rooms))
        metrics.ROOMS_IN_MEMORY.set(len(self.rooms))

    def _load_directory(self) -> RoomDirectory:
        try:
            directory = self.store.load(DIRECTORY_ID)
            if directory is None:
                directory = RoomDirectory()
                try:
                    self.store.save(directory)
                except IntegrityError:
                    # Another process on the same store (a node starting at the same
                    # moment) opened the directory first: there is only ever one.
                    directory = self.store.load(DIRECTORY_ID)
        except Exception as e:
            raise StoreUnavailable() from e
        if not isinstance(directory, RoomDirectory):
            raise TypeError(f"the store holds a {type(directory).__name__} under the room directory's id")
        return directory

    def _loaded_directory(self) -> RoomDirectory:
        """The room directory, loaded again if a failed save dropped it (raises StoreUnavailable)."""
        if self.directory is None:
            self.directory = self._load_directory()
        return self.directory

    def _schedule(self, message: object, delay_s: float) -> None:
        ref = self.actor_ref
        self.timers = [t for t in self.timers if not t.cancelled]
        self.timers.append(self.clock.call_later(delay_s, lambda: tell_quietly(ref, message)))

    def ping(self) -> str:
        """Answered once the hub has started: used to wait for it at start-up."""
        return "pong"

    def hand_over_rooms(self) -> int:
        """Cluster mode, at the start of a drain: stop every room here (each saves what it
        decided and sends its members to reconnect, 1012) and release their leases, so the
        other nodes take them over at once. Returns how many rooms were handed over."""
        assert self.cluster is not None
        rooms, self.rooms = self.rooms, {}
        for actor in rooms.values():
            tell_quietly(actor, StopServing(HANDED_OVER, save_first=True))
        for actor in rooms.values():
            if actor.is_alive():
                actor.stop()  # after StopServing: waits until the room has saved and stopped
        self.cluster.keeper.release(list(rooms))
        self._count_rooms()
        return len(rooms)

    # ------------------------------------------------------------- dispatch

    def on_receive(self, message: object) -> None:
        try:
            self._loaded_directory()
            handler = HANDLERS.get(type(message))
            if handler is not None:
                handler(self, message)
            self._count_rooms()
        except StoreUnavailable:
            log.warning("hub: the store is unavailable; refused %s", type(message).__name__)
            self._reply_to_sender_of(message, wire.store_unreachable())
        except Exception:
            log.exception("hub failed on %s", type(message).__name__)
            self._reply_to_sender_of(message, wire.internal_error())

    def _reply_to_sender_of(self, message: object, reply: dict[str, Any]) -> None:
        sender = getattr(message, "sender", None)
        if sender is not None:
            self._reply(sender, reply, getattr(message, "ref", None))

    # ------------------------------------------------------------- connections and heartbeats

    def _register(self, message: RegisterConnection) -> None:
        sender = message.sender
        previous = self.connections.get(sender.user_id)
        if previous is not None and previous.conn_id != sender.conn_id:
            tell_quietly(previous.conn, Replaced())
        self.connections[sender.user_id] = sender

    def _speaks_for_its_user(self, sender: Sender, ref: object) -> bool:
        """Only a user's newest connection may put it in a room.

        A socket replaced by a newer one may have sent ``join`` just before it
        heard so; were that join to reach the room after the newer socket's, the
        room would attach the old socket and the newer one would be left out.
        Every join passes through here in order, after the registration that
        replaced the old socket, so refusing it here is enough.
        """
        current = self.connections.get(sender.user_id)
        if current is not None and current.conn_id == sender.conn_id:
            return True
        self._reply(sender, wire.replaced(), ref)
        return False

    def _unregister(self, message: UnregisterConnection) -> None:
        current = self.connections.get(message.sender.user_id)
        if current == message.sender:
            del self.connections[message.sender.user_id]

    def _heartbeat(self, _: HeartbeatTick) -> None:
        for sender in list(self.connections.values()):
            tell_quietly(sender.conn, HeartbeatDue())
        self._schedule(HeartbeatTick(), self.settings.heartbeat_s)

    def _on_sweep_due(self, _: SweepDue) -> None:
        self._schedule(SweepDue(), self.settings.sweep_interval_s)
        self.join_guard.forget_old(self.clock.now_ms())
        self.room_quota.forget_old(self.clock.now_ms())
        # Find the rooms not in memory that are closed or due: the sweeper reads them, off
        # this thread, and tells RoomsSwept. One sweep at a time.
        if self.sweeper is not None and not self.sweeping:
            self.sweeping = True
            tell_quietly(self.sweeper, SweepRooms(self._rooms_to_sweep(), self.clock.now_ms()))

    # ------------------------------------------------------------- rooms

    def _create_room(self, message: CreateRoom) -> None:
        sender, ref = message.sender, message.ref
        if not self._speaks_for_its_user(sender, ref):
            return
        refusal = self.room_quota.check(sender.ip, self.clock.now_ms())
        if refusal is not None:
            log.warning("rate limit: create_room refused for %s (user %s)", sender.ip, sender.user_id)
            self._reply(sender, wire.rate_limited(refusal), ref)
            return
        self._open_room(message, first_tried_ms=self.clock.now_ms(), attempt=1)

    def _retry_create_room(self, message: RetryCreateRoom) -> None:
        if self._speaks_for_its_user(message.create.sender, message.create.ref):
            self._open_room(message.create, message.first_tried_ms, message.attempt)

    def _open_room(self, message: CreateRoom, first_tried_ms: int, attempt: int) -> None:
        sender, ref = message.sender, message.ref
        quiz = self._load_quiz(message.quiz_id)
        if quiz is None:
            self._reply(sender, wire.quiz_not_found(message.quiz_id), ref)
            return
        if quiz.archived:
            self._reply(sender, wire.quiz_archived(quiz.title), ref)
            return
        code = self._free_code()
        now = self.clock.now_ms()
        try:
            room = Room.open(
                code=code,
                quiz_id=message.quiz_id,
                # The quiz's own get-ready time, or this server's default: kept in the room's
                # copy of the quiz, so the room replays the same everywhere.
                quiz={"get_ready_s": self.settings.get_ready_s, **quiz.document},
                quiz_revision=quiz.revision,
                host_id=sender.user_id,
                host_name=message.name,
                at=now,
                word_filter=message.word_filter,
                friendly_names=message.friendly_names,
            )
        except RoomError as e:
            self._reply(sender, wire.refused(e), ref)
            return
        lease = self._lease_new_room(str(room.id))
        directory = self._loaded_directory()
        directory_version = directory.version
        directory.assign(code=code, room_id=str(room.id), at=now)
        try:
            # One atomic save: a room never exists without its code, nor a code without its room.
            self.store.save(room, directory)
        except Exception as e:
            self.directory = None  # it assigned a code that was not stored: reload before next use
            if self.cluster is not None:
                self.cluster.keeper.release([str(room.id)])
                if isinstance(e, IntegrityError) and now - first_tried_ms < CREATE_RETRY_FOR_MS:
                    # Another node saved the directory first: read it again, draw again, later.
                    low, high = CREATE_RETRY_PAUSE_S
                    pause = random.uniform(low, min(high, low * 2**attempt))
                    log.info(
                        "a new room lost the directory to another node's save; trying again (attempt %d)",
                        attempt,
                    )
                    self._schedule(RetryCreateRoom(message, first_tried_ms, attempt + 1), pause)
                    return
            log.exception("could not store a new room (attempt %d)", attempt)
            self._reply(sender, wire.room_not_created(), ref)
            return
        log.info(
            "room %s (%s) created by %s",
            code,
            room.id,
            sender.user_id,
            extra=logs.fields(room_id=room.id, user_id=sender.user_id, address=sender.ip),
        )
        self.store.snapshot_if_due(directory, directory_version)
        actor = RoomActor.start(
            room.id,
            self.store,
            self.clock,
            self.settings,
            self.seats,
            self.actor_ref,
            created=room,
            lease=lease,
        )
        self.rooms[str(room.id)] = actor
        actor.tell(HostRoomCreated(sender, ref))

    def _lease_new_room(self, room_id: str) -> RoomLease | None:
        """Cluster mode: the new room's first lease, taken before the room is stored, so no
        other node can serve it before its creator does."""
        if self.cluster is None:
            return None
        epoch = self.cluster.keeper.acquire(room_id)
        if epoch is None:  # a fresh uuid: nobody can hold it
            raise RuntimeError(f"room {room_id} is new, yet another node holds its lease")
        return self.cluster.lease(room_id, epoch)

    def _load_quiz(self, quiz_id: str) -> Quiz | None:
        try:
            quiz = self.store.load(uuid.UUID(quiz_id))
        except ValueError:
            return None
        except PersistenceError as e:
            # The database unreachable (PostgreSQL down, this node cut off from it): the
            # host hears `busy` and tries again, not "something went wrong on the server".
            raise StoreUnavailable() from e
        return quiz if isinstance(quiz, Quiz) else None

    def _free_code(self) -> str:
        while True:
            code = f"{secrets.randbelow(1_000_000):06d}"
            if self._loaded_directory().room_for(code) is None:
                return code

    def _join_room(self, message: JoinRoom) -> None:
        sender, now = message.sender, self.clock.now_ms()
        if not self._speaks_for_its_user(sender, message.ref):
            return
        # A seat (a member coming back) is read before the code is looked up, and the
        # same way whatever the code: a refusal says nothing about which codes are live.
        seat = message.seat if self.seats.holds(message.seat, message.code, sender.user_id) else None
        refusal = self.join_guard.check(sender.ip, now, seat)
        if refusal is not None:
            self._refuse_join(sender, refusal, message.ref)
            return
        if self.cluster is not None:
            self._find_and_join(message, time.monotonic())
            return
        room_id = self._loaded_directory().room_for(message.code)
        if room_id is None:
            self._unknown_code(message)
            return
        actor = self._activate(room_id)
        actor.tell(self._join_for_room(message))

    def _join_for_room(self, message: JoinRoom) -> Join:
        """What the room hears. A join on a seat skipped its address's join rate: the room
        lets it in only as a member, and sends anyone else back (``_join_as_newcomer``)."""
        on_seat = self.seats.holds(message.seat, message.code, message.sender.user_id)
        return Join(message.sender, message.name, message.ref, on_seat=on_seat)

    def _join_as_newcomer(self, message: JoinAsNewcomer) -> None:
        """A join on a seat whose user is not a member (it left, or the code is another
        room's now): it counts towards its address's join rate like any newcomer's."""
        join = message.join
        refusal = self.join_guard.check(join.sender.ip, self.clock.now_ms())
        if refusal is not None:
            self._refuse_join(join.sender, refusal, join.ref)
            return
        if not tell_quietly(message.room, dataclasses.replace(join, on_seat=False)):
            # The room stopped meanwhile (moved, drained, closed): the client reconnects
            # and joins again, wherever the room is now.
            tell_quietly(join.sender.conn, CloseSocket(protocol.CLOSE_SERVICE_RESTART, "room moved"))

    def _refuse_join(self, sender: Sender, refusal: JoinRefusal, ref: Any) -> None:
        log.warning(
            "rate limit: join refused for %s (user %s): %s",
            sender.ip,
            sender.user_id,
            refusal.message,
            extra=logs.fields(user_id=sender.user_id, address=sender.ip),
        )
        self._reply(sender, wire.join_refused(refusal.reason, refusal.message, refusal.retry_after_s), ref)

    def _unknown_code(self, message: JoinRoom) -> None:
        sender, now = message.sender, self.clock.now_ms()
        if self.join_guard.failed(sender.ip, now, message.code):
            metrics.JOIN_LOCKOUTS.inc()
            log.warning(
                "join lockout for %s (user %s): too many unknown codes",
                sender.ip,
                sender.user_id,
                extra=logs.fields(user_id=sender.user_id, address=sender.ip),
            )
        self._reply(sender, wire.room_not_found(message.code), message.ref)

    def _activate(self, room_id: str, lease: RoomLease | None = None) -> pykka.ActorRef[Any]:
        """The room's running actor, started (and so replayed) if need be."""
        actor = self.rooms.get(room_id)
        if actor is None or not actor.is_alive():
            log.info("room %s: activated from the store", room_id, extra=logs.fields(room_id=room_id))
            metrics.ROOM_ACTIVATIONS.inc()
            actor = RoomActor.start(
                uuid.UUID(room_id),
                self.store,
                self.clock,
                self.settings,
                self.seats,
                self.actor_ref,
                lease=lease,
            )
            self.rooms[room_id] = actor
        return actor

    # ------------------------------------------------------------- cluster mode (docs/cluster.md)

    def _find_and_join(
        self, message: JoinRoom, arrived: float, owner_expired_by: float | None = None
    ) -> None:
        """A join on a node of a cluster: the room may be unknown here yet, or served elsewhere."""
        import psycopg  # here, not above: a single node on SQLite never loads it

        cluster = self.cluster
        assert cluster is not None
        room_id = self._loaded_directory().room_for(message.code)
        if room_id is None:
            # Another node may have created it since this one read the directory.
            now = time.monotonic()
            wait = cluster.directory_refresh.decide(arrived, now)
            if wait is None:
                self._unknown_code(message)
                return
            if wait > 0:
                self._schedule(RetryJoin(message, arrived), wait)
                return
            self.directory = None
            room_id = self._loaded_directory().room_for(message.code)
            cluster.directory_refresh.done(now)
            if room_id is None:
                self._unknown_code(message)
                return
        actor = self.rooms.get(room_id)
        if actor is not None and actor.is_alive():
            actor.tell(self._join_for_room(message))
            return
        try:
            decision = cluster.placement.route(room_id, message.hint, owner_expired_by)
        except psycopg.Error as e:
            # This node cannot read the leases (cut off from PostgreSQL): it cannot
            # serve the room. 1012 sends the client back through HAProxy at once, which
            # takes this node out as soon as its /readyz fails.
            log.warning(
                "room %s: cannot read its lease (%s); sending user %s elsewhere",
                room_id,
                e,
                message.sender.user_id,
            )
            tell_quietly(message.sender.conn, CloseSocket(protocol.CLOSE_SERVICE_RESTART, "node cut off"))
            return
        if isinstance(decision, Serve):
            actor = self._activate(room_id, cluster.lease(room_id, decision.epoch))
            actor.tell(self._join_for_room(message))
        elif isinstance(decision, Redirect):
            metrics.REDIRECTS.labels("true" if message.hint else "false").inc()
            log.info(
                "room %s is served by node %s: redirecting user %s",
                message.code,
                decision.node,
                message.sender.user_id,
                extra=logs.fields(room_id=room_id, user_id=message.sender.user_id),
            )
            self._reply(
                message.sender,
                wire.redirect(redirect_url(message.code, decision.node), decision.node),
                message.ref,
            )
            tell_quietly(
                message.sender.conn, CloseSocket(protocol.CLOSE_REDIRECT, "room served by another node")
            )
        elif time.monotonic() - arrived > 3 * self.settings.lease_ttl_s:
            self._reply(message.sender, wire.store_unreachable(), message.ref)
        else:
            # A dead owner's lease runs out: look again then.
            self._schedule(RetryJoin(message, arrived, decision.owner_expires), decision.seconds)

    def _retry_join(self, message: RetryJoin) -> None:
        if self._speaks_for_its_user(message.join.sender, message.join.ref):
            self._find_and_join(message.join, message.arrived, message.owner_expired_by)

    def _lease_lost(self, message: LeaseLost) -> None:
        held = self.cluster.keeper.epoch_of(message.room_id) if self.cluster is not None else None
        if held is not None and held != message.epoch:
            return  # an earlier lease's: a join has started the room here again since, under a new one
        actor = self.rooms.pop(message.room_id, None)
        if actor is not None:
            tell_quietly(actor, StopServing("lease lost"))
        if self.cluster is not None:
            self.cluster.keeper.forget(message.room_id)

    def _room_closed(self, message: RoomWasClosed) -> None:
        actor = self.rooms.pop(message.room_id, None)
        if actor is not None:
            actor.stop(block=False)
        attempts = CLOSE_ATTEMPTS if self.cluster is not None else 1
        for attempt in range(1, attempts + 1):
            directory = self._loaded_directory()
            directory_version = directory.version
            if not directory.release(message.code, message.room_id, self.clock.now_ms()):
                break
            try:
                self.store.save(directory)
                self.store.snapshot_if_due(directory, directory_version)
                break
            except Exception as e:
                self.directory = None
                if isinstance(e, IntegrityError) and attempt < attempts:
                    continue  # cluster mode: another node saved the directory first
                # The room's RoomClosed is stored: the next sweep releases the code again.
                raise StoreUnavailable() from e
        if self.cluster is not None:
            self.cluster.keeper.release([message.room_id])

    def _sweep_now(self, sweep: RoomSweep) -> None:
        """At start-up, before this node serves anyone: close the rooms whose time ran out
        while the server was stopped (read here, on the hub's thread: nobody waits yet)."""
        found = sweep(self._rooms_to_sweep(), self.clock.now_ms())
        self._rooms_swept(found)

    def _rooms_to_sweep(self) -> tuple[tuple[str, str], ...]:
        """The open rooms not in memory, as (code, room id): a running room closes itself when due."""
        return tuple(
            (code, room_id)
            for code, room_id in self._loaded_directory().open_rooms.items()
            if room_id not in self.rooms
        )

    def _rooms_swept(self, message: RoomsSwept) -> None:
        """What a sweep found: release the codes of closed rooms, close the rooms due."""
        self.sweeping = False
        for room_id, code in message.closed:
            if room_id not in self.rooms:  # started meanwhile, it tells the hub itself
                self._room_closed(RoomWasClosed(room_id, code))
        for room_id in message.due:
            if room_id in self.rooms:
                continue  # a join started it meanwhile: it closes itself when due
            if self.cluster is None:
                self._activate(room_id).tell(CleanupDue())
                continue
            # Closed once, by the node that takes its lease (none if another node has it).
            epoch = self.cluster.keeper.acquire(room_id)
            if epoch is not None:
                self._activate(room_id, self.cluster.lease(room_id, epoch)).tell(CleanupDue())

    # ------------------------------------------------------------- helpers

    @staticmethod
    def _reply(sender: Sender, message: dict[str, Any], ref: object = None) -> None:
        tell_quietly(sender.conn, Deliver(Batch(protocol.encode(protocol.with_ref(message, ref)))))


# What the hub does with each message it is told (cosmicpython's messagebus style).
HANDLERS: dict[type, Callable[[HubActor, Any], None]] = {
    RegisterConnection: HubActor._register,
    UnregisterConnection: HubActor._unregister,
    CreateRoom: HubActor._create_room,
    JoinRoom: HubActor._join_room,
    RoomWasClosed: HubActor._room_closed,
    HeartbeatTick: HubActor._heartbeat,
    SweepDue: HubActor._on_sweep_due,
    RoomsSwept: HubActor._rooms_swept,
    RetryJoin: HubActor._retry_join,
    JoinAsNewcomer: HubActor._join_as_newcomer,
    RetryCreateRoom: HubActor._retry_create_room,
    LeaseLost: HubActor._lease_lost,
}
