"""The connection actor: one per socket, the socket's identity and its route.

Connection actors are ``PooledActor``s: there can be thousands, and their
handlers never block. In the server they run on the event loop that owns their
sockets (``LoopDispatcher``), so what they hand their socket is written without
another hand-over between threads.

It owns who the socket is (after ``hello``), which room it is attached to, and
its heartbeat count. Client messages arrive already checked by the protocol
module; the connection answers the ones about itself (hello, ping, pong) and
forwards the rest: room creation and joins to the hub, everything else to its
room. It never touches the socket: it hands texts and close requests to the
socket's outlet, which passes them to the event loop.
"""

from __future__ import annotations

import hmac
import itertools
import logging
import uuid
from collections.abc import Callable
from typing import Any, Protocol

import pykka

from quiz_actors import logs, metrics, protocol, wire
from quiz_actors.actors.delivery import tell_quietly
from quiz_actors.actors.messages import (
    AttachedToRoom,
    ClientMessage,
    CloseIfInRoom,
    CloseSocket,
    CreateRoom,
    Deliver,
    DetachedFromRoom,
    HeartbeatDue,
    JoinRoom,
    MemberDisconnected,
    RegisterConnection,
    Replaced,
    RoomCommand,
    Sender,
    SocketClosed,
    UnregisterConnection,
)
from quiz_actors.actors.pooled import Dispatcher, PooledActor
from quiz_actors.actors.room_sockets import RoomSockets
from quiz_actors.clock import Clock
from quiz_actors.protocol import Batch
from quiz_actors.tokens import TokenSigner

log = logging.getLogger(__name__)
_conn_ids = itertools.count(1)


class SocketOutlet(Protocol):
    """The socket as actors see it; every method is safe from any thread."""

    peer: str

    def send(self, batch: Batch) -> None: ...

    def close(self, code: int, reason: str) -> None: ...

    def authenticated(self, user_id: str) -> None: ...

    def set_host(self, is_host: bool) -> None: ...


class ConnectionActor(PooledActor):
    def __init__(
        self,
        outlet: SocketOutlet,
        hub: pykka.ActorRef[Any],
        clock: Clock,
        signer: TokenSigner,
        heartbeat_ms: int,
        missed_pings_limit: int,
        admin_key: str = "",
        dispatcher: Dispatcher | None = None,
        rooms_per_socket: int = 20,
        node_hint: str | None = None,
        room_sockets: RoomSockets | None = None,
    ):
        super().__init__(dispatcher=dispatcher)
        self.node_hint = node_hint  # cluster mode: the node this socket asked for (``/ws?node=``)
        # Cluster mode: told which room this socket is in, for the lease keeper's thread.
        self.room_sockets = room_sockets
        self.conn_id = next(_conn_ids)
        self.outlet = outlet
        self.hub = hub
        self.clock = clock
        self.signer = signer
        self.heartbeat_ms = heartbeat_ms
        self.missed_pings_limit = missed_pings_limit
        self.admin_key = admin_key
        self.rooms_left = rooms_per_socket  # create_room requests this socket may still make
        self.user_id: str | None = None
        self.room: pykka.ActorRef[Any] | None = None
        self.room_id: str | None = None
        self.unanswered_pings = 0
        self.summaries = False  # its latest join asked for membership summaries (docs/protocol.md)
        self.finished = False
        self._token: str | None = None

    # ------------------------------------------------------------- dispatch

    def on_receive(self, message: object) -> None:
        try:
            handler = HANDLERS.get(type(message))
            if handler is not None:
                handler(self, message)
        except Exception:  # one bad message must not stop the actor
            log.exception(
                "connection %s failed on %s", self.conn_id, type(message).__name__, extra=self._log_fields()
            )
            self._reply(wire.internal_error())

    def _on_deliver(self, message: Deliver) -> None:
        # A room this socket has just switched away from may still be sending.
        stale = message.room_id is not None and self.room_id is not None and message.room_id != self.room_id
        if not self.finished and not stale:
            self.outlet.send(message.batch)

    def _on_close_socket(self, message: CloseSocket) -> None:
        self._finish(message.code, message.reason)

    def _on_close_if_in_room(self, message: CloseIfInRoom) -> None:
        if message.room_id != self.room_id:
            return  # it has moved on to another room (or none) since the keeper looked
        # No MemberDisconnected: the room stops serving here and saves nothing more (its
        # thread may be stuck in a save already); its next owner marks the member offline.
        self._set_room(None, None)
        self._finish(message.code, message.reason)

    def _on_replaced(self, _: Replaced) -> None:
        self._reply(wire.replaced())
        self._leave_room("replaced")
        self._finish(protocol.CLOSE_REPLACED, "replaced")

    def _on_socket_closed(self, _: SocketClosed) -> None:
        self._leave_room("disconnected")
        if self.user_id is not None:
            tell_quietly(self.hub, UnregisterConnection(self._sender()))
        self.finished = True
        self.stop()

    def on_late_message(self, message: object) -> None:
        # A room that attached this socket just as it closed must hear it is gone,
        # or the member would stay online with no socket.
        if isinstance(message, AttachedToRoom) and self.user_id is not None:
            tell_quietly(message.room, MemberDisconnected(self._sender(), "disconnected"))

    # ------------------------------------------------------------- client messages

    def _on_client_message(self, incoming: ClientMessage) -> None:
        if self.finished:
            return  # replaced or closing: what the socket still sent must not act for the member
        message = incoming.message
        kind = message["type"]
        ref = message.get("ref")
        about_the_socket = SOCKET_MESSAGES.get(kind)
        if about_the_socket is not None:
            about_the_socket(self, message, ref)
            return
        if self.user_id is None:
            self._reply(wire.hello_first(), ref)
            return
        for_the_hub = HUB_MESSAGES.get(kind)
        if for_the_hub is not None:
            for_the_hub(self, message, ref)
        elif self.room is None:
            self._reply(wire.join_first(), ref)
        elif not tell_quietly(self.room, RoomCommand(self._sender(), message, incoming.received_at)):
            self._set_room(None, None)
            self._reply(wire.room_has_closed(), ref)

    def _on_ping(self, message: dict[str, Any], ref: object) -> None:
        self._reply(wire.pong(message.get("t")), ref)

    def _on_pong(self, message: dict[str, Any], ref: object) -> None:
        self.unanswered_pings = 0

    def _create_room(self, message: dict[str, Any], ref: object) -> None:
        if not self._admin_key_ok(message.get("admin_key")):
            log.info(
                "refused create_room from %s (user %s): admin key",
                self.outlet.peer,
                self.user_id,
                extra=self._log_fields(),
            )
            self._reply(wire.admin_key_needed(), ref)
            return
        if self.rooms_left <= 0:
            log.warning("rate limit: create_room refused for %s (user %s)", self.outlet.peer, self.user_id)
            self._reply(wire.rate_limited("Too many rooms created from this connection"), ref)
            return
        self.rooms_left -= 1
        create = CreateRoom(
            self._sender(),
            message["quiz_id"],
            message["name"],
            ref,
            word_filter=message.get("word_filter", True),
            friendly_names=message.get("friendly_names", False),
        )
        tell_quietly(self.hub, create)

    def _join(self, message: dict[str, Any], ref: object) -> None:
        self.summaries = message.get("membership") == protocol.MEMBERSHIP_SUMMARY
        tell_quietly(
            self.hub,
            JoinRoom(
                self._sender(),
                message["code"],
                message.get("name", ""),
                ref,
                self.node_hint,
                message.get("seat"),
            ),
        )

    def _on_hello(self, message: dict[str, Any], ref: object) -> None:
        if self.user_id is not None:
            # A second hello changes nothing: the socket keeps its identity.
            self._reply(self._welcome(), ref)
            return
        token = message.get("token")
        now = self.clock.now_ms()
        user_id = str(uuid.uuid4()) if token is None else self.signer.verify(token, now)
        if user_id is None:
            log.info(
                "auth failure from %s: invalid or expired token", self.outlet.peer, extra=self._log_fields()
            )
            self._reply(wire.token_refused(), ref)
            self._finish(protocol.CLOSE_POLICY, "unauthorized")
            return
        self.user_id = user_id
        self._token = self.signer.issue(user_id, now) if token is None else token
        self.outlet.authenticated(user_id)
        tell_quietly(self.hub, RegisterConnection(self._sender()))
        log.info(
            "user %s connected from %s (connection %s)",
            user_id,
            self.outlet.peer,
            self.conn_id,
            extra=self._log_fields(),
        )
        self._reply(self._welcome(), ref)

    def _welcome(self) -> dict[str, Any]:
        assert self.user_id is not None
        return wire.welcome(self.user_id, self._token, self.clock.now_ms(), self.heartbeat_ms)

    def _admin_key_ok(self, presented: object) -> bool:
        if not self.admin_key:
            return True  # no key configured: a local single-user server stays open
        return isinstance(presented, str) and hmac.compare_digest(presented.encode(), self.admin_key.encode())

    # ------------------------------------------------------------- rooms

    def _on_attached(self, message: AttachedToRoom) -> None:
        if self.finished:
            # The socket closed while the join was on its way: the room must not
            # keep this member online.
            if self.user_id is not None:
                tell_quietly(message.room, MemberDisconnected(self._sender(), "disconnected"))
            return
        if self.room_id is not None and self.room_id != message.room_id:
            self._leave_room("switched")
        self._set_room(message.room, message.room_id)
        self.outlet.set_host(message.is_host)  # hosts may send more messages a second

    def _on_detached(self, message: DetachedFromRoom) -> None:
        if message.room_id == self.room_id:
            self._set_room(None, None)

    def _leave_room(self, reason: str) -> None:
        if self.room is not None and self.user_id is not None:
            tell_quietly(self.room, MemberDisconnected(self._sender(), reason))
        self._set_room(None, None)

    def _set_room(self, room: pykka.ActorRef[Any] | None, room_id: str | None) -> None:
        """The room this socket is attached to; a socket in a room is a member online."""
        if self.room_id is None and room_id is not None:
            metrics.MEMBERS_ONLINE.inc()
        elif self.room_id is not None and room_id is None:
            metrics.MEMBERS_ONLINE.dec()
        if self.room_sockets is not None:
            self.room_sockets.moved(self.actor_ref, self.room_id, room_id)
        self.room, self.room_id = room, room_id

    def on_stop(self) -> None:
        if self.room_id is not None:  # stopped with the server, its socket still attached
            metrics.MEMBERS_ONLINE.dec()
            if self.room_sockets is not None:
                self.room_sockets.moved(self.actor_ref, self.room_id, None)

    # ------------------------------------------------------------- liveness

    def _on_heartbeat(self, _: HeartbeatDue) -> None:
        if self.finished or self.user_id is None:
            return
        if self.unanswered_pings >= self.missed_pings_limit:
            log.info(
                "user %s missed %s pings: closing",
                self.user_id,
                self.unanswered_pings,
                extra=self._log_fields(),
            )
            self._leave_room("timeout")
            self._finish(protocol.CLOSE_MISSED_HEARTBEATS, "missed heartbeats")
            return
        self.unanswered_pings += 1
        self._reply(wire.ping(self.clock.now_ms()))

    # ------------------------------------------------------------- helpers

    def _log_fields(self) -> dict[str, str]:
        return logs.fields(room_id=self.room_id, user_id=self.user_id, address=self.outlet.peer)

    def _sender(self) -> Sender:
        assert self.user_id is not None
        return Sender(self.user_id, self.conn_id, self.actor_ref, self.outlet.peer, self.summaries)

    def _reply(self, message: dict[str, Any], ref: object = None) -> None:
        if not self.finished:
            self.outlet.send(Batch(protocol.encode(protocol.with_ref(message, ref))))

    def _finish(self, code: int, reason: str) -> None:
        """Close the socket once; the bridge then reports SocketClosed."""
        if not self.finished:
            self.outlet.close(code, reason)
            self.finished = True


# What a connection does with each message it is told (cosmicpython's messagebus
# style). Tables of the class's functions, not of bound methods: there are
# thousands of connections, and each would carry its own copy.
HANDLERS: dict[type, Callable[[ConnectionActor, Any], None]] = {
    Deliver: ConnectionActor._on_deliver,
    ClientMessage: ConnectionActor._on_client_message,
    AttachedToRoom: ConnectionActor._on_attached,
    DetachedFromRoom: ConnectionActor._on_detached,
    CloseSocket: ConnectionActor._on_close_socket,
    CloseIfInRoom: ConnectionActor._on_close_if_in_room,
    HeartbeatDue: ConnectionActor._on_heartbeat,
    Replaced: ConnectionActor._on_replaced,
    SocketClosed: ConnectionActor._on_socket_closed,
}

ClientHandler = Callable[[ConnectionActor, dict[str, Any], object], None]

# Client messages about the socket itself, answered before and after hello.
SOCKET_MESSAGES: dict[str, ClientHandler] = {
    "ping": ConnectionActor._on_ping,
    "pong": ConnectionActor._on_pong,
    "hello": ConnectionActor._on_hello,
}

# Client messages for the hub, once the socket has said hello; every other goes to the room.
HUB_MESSAGES: dict[str, ClientHandler] = {
    "create_room": ConnectionActor._create_room,
    "join": ConnectionActor._join,
}
