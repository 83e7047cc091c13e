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
from typing import Protocol

import pykka

from quiz_actors import protocol
from quiz_actors.actors.delivery import tell_quietly
from quiz_actors.actors.messages import (
    AttachedToRoom,
    ClientMessage,
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
        hub: pykka.ActorRef,
        clock: Clock,
        signer: TokenSigner,
        heartbeat_ms: int,
        missed_pings_limit: int,
        admin_key: str = "",
        dispatcher: Dispatcher | None = None,
        rooms_per_socket: int = 20,
    ):
        super().__init__(dispatcher=dispatcher)
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
        self.room: pykka.ActorRef | None = None
        self.room_id: str | None = None
        self.unanswered_pings = 0
        self.finished = False
        self._token: str | None = None

    # ------------------------------------------------------------- dispatch

    def on_receive(self, message: object) -> None:
        try:
            self._dispatch(message)
        except Exception:  # one bad message must not stop the actor
            log.exception("connection %s failed on %s", self.conn_id, type(message).__name__)
            self._reply(protocol.error("internal", "Something went wrong on the server"))

    def _dispatch(self, message: object) -> None:
        if isinstance(message, Deliver):
            # A room this socket has just switched away from may still be sending.
            stale = (
                message.room_id is not None and self.room_id is not None and message.room_id != self.room_id
            )
            if not self.finished and not stale:
                self.outlet.send(message.batch)
        elif isinstance(message, ClientMessage):
            self._on_client_message(message)
        elif isinstance(message, AttachedToRoom):
            self._attach(message)
        elif isinstance(message, DetachedFromRoom):
            if message.room_id == self.room_id:
                self.room, self.room_id = None, None
        elif isinstance(message, CloseSocket):
            self._finish(message.code, message.reason)
        elif isinstance(message, HeartbeatDue):
            self._on_heartbeat()
        elif isinstance(message, Replaced):
            self._reply(protocol.error("replaced", "You connected from somewhere else"))
            self._leave_room("replaced")
            self._finish(protocol.CLOSE_REPLACED, "replaced")
        elif isinstance(message, SocketClosed):
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
        if kind == "ping":
            self._reply({"type": "pong", "t": message.get("t")}, ref)
            return
        if kind == "pong":
            self.unanswered_pings = 0
            return
        if kind == "hello":
            self._on_hello(message, ref)
            return
        if self.user_id is None:
            self._reply(protocol.error("not_authenticated", "Send hello first", ref))
            return
        if kind == "create_room":
            if not self._admin_key_ok(message.get("admin_key")):
                log.info("refused create_room from %s (user %s): admin key", self.outlet.peer, self.user_id)
                self._reply(
                    protocol.error("unauthorized", "Creating rooms needs the server's admin key"), ref
                )
                return
            if self.rooms_left <= 0:
                log.warning(
                    "rate limit: create_room refused for %s (user %s)", self.outlet.peer, self.user_id
                )
                self._reply(
                    protocol.error("rate_limited", "Too many rooms created from this connection"), ref
                )
                return
            self.rooms_left -= 1
            tell_quietly(self.hub, CreateRoom(self._sender(), message["quiz_id"], message["name"], ref))
        elif kind == "join":
            tell_quietly(self.hub, JoinRoom(self._sender(), message["code"], message["name"], ref))
        elif self.room is None:
            self._reply(protocol.error("not_member", "Join a room first", ref))
        elif not tell_quietly(self.room, RoomCommand(self._sender(), message, incoming.received_at)):
            self.room, self.room_id = None, None
            self._reply(protocol.error("room_closed", "This room has closed"), ref)

    def _on_hello(self, message: dict, ref: object) -> None:
        if self.user_id is not None:
            # A second hello changes nothing: the socket keeps its identity.
            self._reply(self._welcome(), ref)
            return
        token = message.get("token")
        now = self.clock.now_ms()
        if token is None:
            user_id = str(uuid.uuid4())
        else:
            user_id = self.signer.verify(token, now)
            if user_id is None:
                log.info("auth failure from %s: invalid or expired token", self.outlet.peer)
                self._reply(protocol.error("unauthorized", "That token is invalid or expired", ref))
                self._finish(protocol.CLOSE_POLICY, "unauthorized")
                return
        self.user_id = user_id
        self._token = self.signer.issue(user_id, now) if token is None else token
        self.outlet.authenticated(user_id)
        tell_quietly(self.hub, RegisterConnection(self._sender()))
        log.info("user %s connected from %s (connection %s)", user_id, self.outlet.peer, self.conn_id)
        self._reply(self._welcome(), ref)

    def _welcome(self) -> dict:
        return {
            "type": "welcome",
            "user_id": self.user_id,
            "token": self._token,
            "server_time": self.clock.now_ms(),
            "heartbeat_ms": self.heartbeat_ms,
        }

    def _admin_key_ok(self, presented: object) -> bool:
        if not self.admin_key:
            return True  # no key configured: a local single-user server stays open
        return isinstance(presented, str) and hmac.compare_digest(presented.encode(), self.admin_key.encode())

    # ------------------------------------------------------------- rooms

    def _attach(self, message: AttachedToRoom) -> None:
        if self.finished:
            # The socket closed while the join was on its way: the room must not
            # keep this member online.
            if self.user_id is not None:
                tell_quietly(message.room, MemberDisconnected(self._sender(), "disconnected"))
            return
        if self.room_id is not None and self.room_id != message.room_id:
            self._leave_room("switched")
        self.room, self.room_id = message.room, message.room_id
        self.outlet.set_host(message.is_host)  # hosts may send more messages a second

    def _leave_room(self, reason: str) -> None:
        if self.room is not None and self.user_id is not None:
            tell_quietly(self.room, MemberDisconnected(self._sender(), reason))
        self.room, self.room_id = None, None

    # ------------------------------------------------------------- liveness

    def _on_heartbeat(self) -> None:
        if self.finished or self.user_id is None:
            return
        if self.unanswered_pings >= self.missed_pings_limit:
            log.info("user %s missed %s pings: closing", self.user_id, self.unanswered_pings)
            self._leave_room("timeout")
            self._finish(protocol.CLOSE_MISSED_HEARTBEATS, "missed heartbeats")
            return
        self.unanswered_pings += 1
        self._reply({"type": "ping", "t": self.clock.now_ms()})

    # ------------------------------------------------------------- helpers

    def _sender(self) -> Sender:
        assert self.user_id is not None
        return Sender(self.user_id, self.conn_id, self.actor_ref, self.outlet.peer)

    def _reply(self, message: dict, ref: object = None) -> None:
        if not self.finished:
            self.outlet.send(Batch(protocol.encode(protocol.with_ref(message, ref))))

    def _finish(self, code: int, reason: str) -> None:
        """Close the socket once; the bridge then reports SocketClosed."""
        if not self.finished:
            self.outlet.close(code, reason)
            self.finished = True
