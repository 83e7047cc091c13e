"""Start-up and shut-down of the live system, in dependency order.

The store first, then the signing key, the media library and sample quizzes, then the hub (which
rebuilds the room directory and sweeps rooms due to close). Connections are
started per socket. Stopping: the hub and its rooms first (so that sockets
closing at shutdown do not count as members leaving), then the connections,
the clock, and last the store.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any, TypeVar

import pykka
from eventsourcing.persistence import IntegrityError

from eventstore import EventStore
from eventstore.persistence import describe_store
from quiz_actors import metrics
from quiz_actors.actors.connection import ConnectionActor, SocketOutlet
from quiz_actors.actors.hub import HubActor
from quiz_actors.actors.pooled import Dispatcher, LoopDispatcher
from quiz_actors.clock import Clock, SystemClock
from quiz_actors.domain import word_filter
from quiz_actors.domain.room import Room
from quiz_actors.domain.secret import SECRET_ID, ServerSecret
from quiz_actors.media import MediaLibrary
from quiz_actors.quizzes import QuizLibrary
from quiz_actors.settings import Settings
from quiz_actors.tokens import SeatSigner, TokenSigner

if TYPE_CHECKING:
    from quiz_actors.cluster.node import ClusterNode

log = logging.getLogger(__name__)

T = TypeVar("T")

CONNECTION_WORKERS = 2  # without an event loop to run them on: threads draining connection mailboxes


class QuizSystem:
    def __init__(self, settings: Settings, clock: Clock | None = None):
        self.settings = settings
        self.clock = clock or SystemClock()
        self.store: EventStore | None = None
        self.hub: pykka.ActorRef[Any] | None = None
        self.quizzes: QuizLibrary | None = None
        self.media: MediaLibrary | None = None
        self.signer: TokenSigner | None = None
        self.dispatcher: Dispatcher | LoopDispatcher | None = None
        self.cluster: ClusterNode | None = None
        self._connections: set[pykka.ActorRef[Any]] = set()
        self._lock = threading.Lock()

    def start(self, connection_dispatcher: LoopDispatcher | None = None) -> None:
        """Open the store and start the hub. Connection actors will run on
        ``connection_dispatcher`` (the server passes its event loop's), else on a
        pool of worker threads of their own."""
        log.info("event store: %s", describe_store(self.settings.store))
        if self.settings.cluster:
            # Cluster mode (docs/cluster.md): only a node of a cluster builds one.
            from quiz_actors.cluster.node import ClusterNode

            self.cluster = ClusterNode(self.settings)
            self.store = store = self.cluster.open_store(observer=metrics.StoreMetrics())
            self.cluster.refuse_if_name_in_use()  # before the hub can take any room
        else:
            self.store = store = EventStore(self.settings.store, observer=metrics.StoreMetrics())
        # A room's events and snapshots are plain data: written by orjson, the same bytes
        # for less CPU (eventstore/plain_json.py; every answer is an event).
        store.write_plain_json(Room)
        secret = bytes.fromhex(_secret_hex(store))
        self.signer = TokenSigner(secret, int(self.settings.token_max_age_s * 1000))
        seats = SeatSigner(secret)
        self.media = MediaLibrary(store)
        self.quizzes = QuizLibrary(store, self.clock.now_ms, media_exists=self.media.exists)
        self.quizzes.seed_samples()
        word_filter.load()  # the name checks' tables, before the first room needs them
        self.dispatcher = connection_dispatcher or Dispatcher(workers=CONNECTION_WORKERS, name="connections")
        self.hub = HubActor.start(self.store, self.clock, self.settings, seats, self.cluster)
        self.hub.proxy().ping().get(timeout=30)  # started, directory loaded, sweep done
        if self.cluster is not None:
            self.cluster.start(self.hub)

    def start_connection(self, outlet: SocketOutlet, node_hint: str | None = None) -> pykka.ActorRef[Any]:
        ref = ConnectionActor.start(
            outlet,
            self.hub,
            self.clock,
            self.signer,
            self.settings.heartbeat_ms,
            self.settings.missed_pings,
            self.settings.admin_key,
            dispatcher=self.dispatcher,
            rooms_per_socket=self.settings.rooms_per_socket,
            node_hint=node_hint,
            room_sockets=None if self.cluster is None else self.cluster.room_sockets,
        )
        with self._lock:
            self._connections.add(ref)
        return ref

    def connection_ended(self, ref: pykka.ActorRef[Any]) -> None:
        with self._lock:
            self._connections.discard(ref)

    def hand_over_rooms(self) -> None:
        """Cluster mode, when a drain begins: the other nodes take this node's rooms now."""
        if self.cluster is None or self.hub is None:
            return
        self.cluster.placement.draining = True
        handed = self.hub.proxy().hand_over_rooms().get(timeout=60)
        log.info("drain: %d room(s) handed over to the other nodes", handed)

    def stop_rooms(self) -> None:
        """Stop the hub and its rooms before the sockets close.

        Rooms finish what is in their mailboxes (decided answers are saved) and
        then hear nothing of the sockets closing: a shutdown is not every member
        going offline, which could close an open question. On the next start,
        members the store shows online are marked offline by the room's replay.
        """
        if self.hub is not None and self.hub.is_alive():
            self.hub.stop()
        if self.cluster is not None:
            self.cluster.let_go()  # the rooms have saved and stopped: other nodes may take them now
            self.cluster = None

    def stop(self) -> None:
        self.stop_rooms()
        with self._lock:
            connections = list(self._connections)
        for ref in connections:
            if ref.is_alive():
                ref.stop()
        if self.dispatcher is not None:
            self.dispatcher.shutdown()
        self.clock.stop()
        if self.store is not None:
            self.store.close()
        log.info("stopped")


def started(part: T | None) -> T:
    """A part of a ``QuizSystem`` that exists once ``start()`` has run (the server
    starts it before it serves any request)."""
    if part is None:
        raise RuntimeError("the quiz system has not been started")
    return part


def _secret_hex(store: EventStore) -> str:
    secret = store.load(SECRET_ID)
    if secret is None:
        secret = ServerSecret(secret_hex=TokenSigner.new_secret())
        try:
            store.save(secret)
        except IntegrityError:
            # Another process on the same store (a node starting at the same moment)
            # stored its secret first: every process must sign with that one.
            secret = store.load(SECRET_ID)
    return str(secret.secret_hex)
