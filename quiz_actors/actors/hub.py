"""The hub: the room directory and the connection registry.

It knows which room holds which code (the ``RoomDirectory`` aggregate, of which
it is the only writer), which room actors are running, and which connection
speaks for which user. It creates rooms, routes joins, starts room actors on
demand (a room not in memory is rebuilt by replay), and drives the two
process-wide timers: heartbeats for every connection and the sweep that closes
rooms whose cleanup time passed while nobody was looking.
"""

from __future__ import annotations

import logging
import secrets
import uuid
from collections.abc import Callable
from typing import Any

import pykka

from eventstore import EventStore
from quiz_actors import logs, metrics, protocol, wire
from quiz_actors.actors.delivery import tell_quietly
from quiz_actors.actors.join_guard import JoinGuard
from quiz_actors.actors.messages import (
    CleanupDue,
    CreateRoom,
    Deliver,
    HeartbeatDue,
    HeartbeatTick,
    HostRoomCreated,
    Join,
    JoinRoom,
    RegisterConnection,
    Replaced,
    RoomWasClosed,
    Sender,
    SweepDue,
    UnregisterConnection,
)
from quiz_actors.actors.room import RoomActor
from quiz_actors.actors.room_quota import RoomQuota
from quiz_actors.clock import Clock, Timer
from quiz_actors.domain.directory import DIRECTORY_ID, RoomDirectory
from quiz_actors.domain.errors import RoomError
from quiz_actors.domain.quiz import Quiz
from quiz_actors.domain.room import CLOSED, Room
from quiz_actors.protocol import Batch
from quiz_actors.settings import Settings

log = logging.getLogger(__name__)


class StoreUnavailable(Exception):
    pass


class HubActor(pykka.ThreadingActor):
    def __init__(self, store: EventStore, clock: Clock, settings: Settings):
        super().__init__()
        self.store = store
        self.clock = clock
        self.settings = settings
        self.directory: RoomDirectory | None = None
        self.rooms: dict[str, pykka.ActorRef[Any]] = {}  # room id -> running room actor
        self.connections: dict[str, Sender] = {}  # user id -> its newest connection
        self.join_guard = JoinGuard(
            joins_per_minute=settings.joins_per_ip_per_minute,
            failures_per_minute=settings.failed_joins_per_ip,
            lockout_ms=int(settings.failed_join_lockout_s * 1000),
        )
        self.room_quota = RoomQuota(settings.rooms_per_ip_per_minute)
        self.timers: list[Timer] = []

    # ------------------------------------------------------------- life cycle

    def on_start(self) -> None:
        self.directory = self._load_directory()
        self._schedule(HeartbeatTick(), self.settings.heartbeat_s)
        self._sweep()
        self._schedule(SweepDue(), self.settings.sweep_interval_s)
        self._count_rooms()

    def on_stop(self) -> None:
        for timer in self.timers:
            timer.cancel()
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
                self.store.save(directory)
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
        self._sweep()

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
            )
        except RoomError as e:
            self._reply(sender, wire.refused(e), ref)
            return
        directory = self._loaded_directory()
        directory_version = directory.version
        directory.assign(code=code, room_id=str(room.id), at=now)
        try:
            # One atomic save: a room never exists without its code, nor a code without its room.
            self.store.save(room, directory)
        except Exception:
            log.exception("could not store a new room")
            self.directory = None  # it assigned a code that was not stored: reload before next use
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
        actor = RoomActor.start(room.id, self.store, self.clock, self.settings, self.actor_ref, created=room)
        self.rooms[str(room.id)] = actor
        actor.tell(HostRoomCreated(sender, ref))

    def _load_quiz(self, quiz_id: str) -> Quiz | None:
        try:
            quiz = self.store.load(uuid.UUID(quiz_id))
        except ValueError:
            return None
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
        refusal = self.join_guard.check(sender.ip, now)
        if refusal is not None:
            log.warning(
                "rate limit: join refused for %s (user %s): %s",
                sender.ip,
                sender.user_id,
                refusal,
                extra=logs.fields(user_id=sender.user_id, address=sender.ip),
            )
            self._reply(sender, wire.rate_limited(refusal), message.ref)
            return
        room_id = self._loaded_directory().room_for(message.code)
        if room_id is None:
            if self.join_guard.failed(sender.ip, now):
                log.warning(
                    "join lockout for %s (user %s): too many unknown codes",
                    sender.ip,
                    sender.user_id,
                    extra=logs.fields(user_id=sender.user_id, address=sender.ip),
                )
            self._reply(sender, wire.room_not_found(message.code), message.ref)
            return
        actor = self._activate(room_id)
        actor.tell(Join(message.sender, message.name, message.ref))

    def _activate(self, room_id: str) -> pykka.ActorRef[Any]:
        """The room's running actor, started (and so replayed) if need be."""
        actor = self.rooms.get(room_id)
        if actor is None or not actor.is_alive():
            log.info("room %s: activated from the store", room_id, extra=logs.fields(room_id=room_id))
            metrics.ROOM_ACTIVATIONS.inc()
            actor = RoomActor.start(uuid.UUID(room_id), self.store, self.clock, self.settings, self.actor_ref)
            self.rooms[room_id] = actor
        return actor

    def _room_closed(self, message: RoomWasClosed) -> None:
        actor = self.rooms.pop(message.room_id, None)
        if actor is not None:
            actor.stop(block=False)
        directory = self._loaded_directory()
        directory_version = directory.version
        if directory.release(message.code, message.room_id, self.clock.now_ms()):
            try:
                self.store.save(directory)
                self.store.snapshot_if_due(directory, directory_version)
            except Exception as e:
                # The room's RoomClosed is stored: the next sweep releases the code again.
                self.directory = None
                raise StoreUnavailable() from e

    def _sweep(self) -> None:
        """Activate the rooms not in memory whose cleanup time has passed.

        A room's own actor closes it when due; this finds rooms whose time ran out
        while the server was stopped, or that nobody has touched since.
        """
        now = self.clock.now_ms()
        ended_ttl = int(self.settings.ended_room_ttl_s * 1000)
        idle_ttl = int(self.settings.idle_room_ttl_s * 1000)
        unjoined_ttl = int(self.settings.unjoined_room_ttl_s * 1000)
        for code, room_id in list(self._loaded_directory().open_rooms.items()):
            if room_id in self.rooms:
                continue
            try:
                room = self.store.load(uuid.UUID(room_id))
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
                self._room_closed(RoomWasClosed(room_id, code))
                continue
            due = room.cleanup_due_at(
                ended_ttl, idle_ttl, assume_nobody_online=True, unjoined_ttl_ms=unjoined_ttl
            )
            if due is not None and due <= now:
                self._activate(room_id).tell(CleanupDue())

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
}
