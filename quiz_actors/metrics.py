"""Every Prometheus metric the server exports, defined in this one module.

The modules that measure something import the metric they update from here;
``GET /metrics`` (``quiz_actors/server/ops_http.py``) renders ``REGISTRY``.

Labels are bounded: message types, error codes, close reasons and garbage
collector generations come from fixed sets. User ids and room codes are never
labels (one series per user would grow without end); per-room detail belongs
in the logs and the audit tools.

Two counters sit on the hottest path of a broadcast (every message written to
every socket, on the event loop): they are plain dictionaries counted there
and turned into Prometheus samples only when scraped (``_PlainCounters``).
"""

from __future__ import annotations

import gc
import time
from collections import Counter as Tally
from collections.abc import Iterable, Sequence
from typing import Any

from prometheus_client import (
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Info,
)
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector

from quiz_actors import __version__

REGISTRY = CollectorRegistry()
for _standard in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):
    # process_open_fds / process_max_fds, CPU, memory; Python version; collections
    REGISTRY.register(_standard)

# Buckets for what should take milliseconds and is worth an alert past a second or two.
MS_TO_SECONDS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)

BUILD = Info("quiz_build", "The server's version", registry=REGISTRY)
BUILD.info({"version": __version__})

# ---------------------------------------------------------------- now

SOCKETS_OPEN = Gauge("quiz_sockets_open", "WebSockets open now", registry=REGISTRY)
ROOMS_OPEN = Gauge("quiz_rooms_open", "Rooms that are not closed (the room directory)", registry=REGISTRY)
ROOMS_IN_MEMORY = Gauge(
    "quiz_rooms_in_memory", "Rooms with a running room actor (the rest wait in the store)", registry=REGISTRY
)
MEMBERS_ONLINE = Gauge(
    "quiz_members_online", "Sockets attached to a room (hosts and players online)", registry=REGISTRY
)
DRAINING = Gauge("quiz_draining", "1 while the server drains before a restart", registry=REGISTRY)

# ---------------------------------------------------------------- traffic

MESSAGES_RECEIVED = Counter(
    "quiz_messages_received",
    "Client messages received, by type (invalid: a frame the protocol refused)",
    ["type"],
    registry=REGISTRY,
)
ERRORS_SENT = Counter(
    "quiz_errors_sent", "error messages sent to clients, by code", ["code"], registry=REGISTRY
)
RATE_LIMITED = Counter(
    "quiz_rate_limited_messages", "Client messages refused by a socket's rate limit", registry=REGISTRY
)
SOCKETS_CLOSED = Counter(
    "quiz_sockets_closed_by_server",
    "Sockets the server closed, by reason (rate_limit, slow_consumer, drain, shutdown)",
    ["reason"],
    registry=REGISTRY,
)

# ---------------------------------------------------------------- store

SAVE_SECONDS = Histogram(
    "quiz_store_save_seconds",
    "Time of one commit to the event store (its _count is the number of saves)",
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
    registry=REGISTRY,
)
SAVE_FAILURES = Counter("quiz_store_save_failures", "Commits the event store refused", registry=REGISTRY)
SAVE_ERRORS = Counter(
    "quiz_store_save_errors",
    "Of the refused commits, those that were not version clashes (another writer saving the same "
    "version first: routine in a cluster, two nodes creating rooms at once or a takeover fencing a "
    "former owner): the store out of reach, a timeout, a fault",
    registry=REGISTRY,
)
EVENTS_PER_SAVE = Histogram(
    "quiz_store_events_per_save",
    "Events stored by one commit",
    buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000),
    registry=REGISTRY,
)
ANSWERS_PER_SAVE = Histogram(
    "quiz_answers_per_save",
    "Answers stored by one commit, for commits holding answers (group commit at work)",
    buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000),
    registry=REGISTRY,
)
ANSWERS_STORED = Counter("quiz_answers_stored", "Answers stored", registry=REGISTRY)

# ---------------------------------------------------------------- rooms

ROOM_ACTIVATIONS = Counter(
    "quiz_room_activations", "Room actors started for a room that was only in the store", registry=REGISTRY
)
ROOM_REPLAY_SECONDS = Histogram(
    "quiz_room_replay_seconds",
    "Time to rebuild a room from the store (from its latest snapshot)",
    buckets=MS_TO_SECONDS,
    registry=REGISTRY,
)
JOIN_LOCKOUTS = Counter(
    "quiz_join_lockouts",
    "Addresses locked out for trying too many unknown room codes (a school behind one address, if it is one)",
    registry=REGISTRY,
)
ROOM_LOAD_FAILURES = Counter(
    "quiz_room_load_failures",
    "Times a room could not be rebuilt from the store (unreachable, or a read that failed)",
    registry=REGISTRY,
)
FANOUT_SECONDS = Histogram(
    "quiz_broadcast_fanout_seconds",
    "Time a room spends handing one round of messages to 2 or more members' connections",
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0),
    registry=REGISTRY,
)

# ---------------------------------------------------------------- cluster mode (docs/cluster.md)

LEASES_HELD = Gauge(
    "quiz_cluster_leases_held", "Room leases this node holds: the rooms it serves", registry=REGISTRY
)
LEASE_RENEWAL_SECONDS = Histogram(
    "quiz_cluster_lease_renewal_seconds",
    "Time of the one statement that renews all of this node's leases (against the lease TTL)",
    buckets=MS_TO_SECONDS,
    registry=REGISTRY,
)
LEASES_RENEWED_AT = Gauge(
    "quiz_cluster_leases_renewed_at_seconds",
    "When this node's lease renewal last succeeded (Unix time; 0 before the first): it runs "
    "every --lease-renew-s even with no room, so its age says how long PostgreSQL has been out of reach",
    registry=REGISTRY,
)
LEASE_RENEWAL_FAILURES = Counter(
    "quiz_cluster_lease_renewal_failures",
    "Lease renewals the database did not answer or refused",
    registry=REGISTRY,
)
LEASES_LOST = Counter(
    "quiz_cluster_leases_lost",
    "Rooms this node stopped serving because of their lease: not_renewed in time "
    "(the database out of reach, the process frozen), taken by another node (found at a renewal), "
    "fenced (the room found another node's takeover stored), or same_name (taken by another "
    "process running under this node's name: two processes share a --node-id)",
    ["reason"],
    registry=REGISTRY,
)
for _reason in ("not_renewed", "taken", "fenced", "same_name"):
    LEASES_LOST.labels(_reason)  # every series exists from the start, at 0
TAKEOVERS = Counter(
    "quiz_cluster_takeovers",
    "Rooms this node took under a new lease, storing RoomTakenOver: moved here from another node "
    "(a failover, a drain) or back after this node's own lease ran out",
    registry=REGISTRY,
)
REDIRECTS = Counter(
    "quiz_cluster_redirects",
    "Joins this node sent to the node that serves the room, by whether the socket came with a node "
    "hint (with_hint=true: HAProxy was told the node and did not honour it, or the room moved)",
    ["with_hint"],
    registry=REGISTRY,
)
for _hinted in ("true", "false"):
    REDIRECTS.labels(_hinted)

# ---------------------------------------------------------------- the process

LOOP_LAG_SECONDS = Histogram(
    "quiz_event_loop_lag_seconds",
    "How late the event loop ran a timer (time other work held it)",
    buckets=MS_TO_SECONDS,
    registry=REGISTRY,
)
GC_PAUSE_SECONDS = Histogram(
    "quiz_gc_pause_seconds",
    "Garbage collection pauses, by generation",
    ["generation"],
    buckets=(0.0001, 0.0005, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0),
    registry=REGISTRY,
)

# ---------------------------------------------------------------- hot path


class _PlainCounters(Collector):
    """Counters kept as plain dictionaries, updated on the event loop only."""

    def __init__(self) -> None:
        self.sent: Tally[str] = Tally()  # message type -> messages written to sockets

    def collect(self) -> Iterable[Metric]:
        family = CounterMetricFamily(
            "quiz_messages_sent", "Server messages queued or written to sockets, by type", labels=["type"]
        )
        for kind, count in sorted(self.sent.items()):
            family.add_metric([kind], count)
        yield family


_PLAIN = _PlainCounters()
REGISTRY.register(_PLAIN)

_TYPE_PREFIX = '{"type":"'
_TYPE_AT = len(_TYPE_PREFIX)


def message_type(text: str) -> str:
    """The ``type`` of an encoded server message: every message the server builds
    puts it first (``protocol.encode`` keeps the order of its dicts). Read from
    the text rather than parsed: a reveal asks this for thousands of texts."""
    if text.startswith(_TYPE_PREFIX):
        end = text.find('"', _TYPE_AT)
        if end > 0:
            return text[_TYPE_AT:end]
    return "other"


_received_by_type: dict[str, Any] = {}  # MESSAGES_RECEIVED's child of each type, looked up once


def count_received(kind: str) -> None:
    """One client message of ``kind`` (a protocol type, or ``invalid``: a bounded set).
    ``labels()`` checks and locks on every call; every answer of a burst passes here."""
    child = _received_by_type.get(kind)
    if child is None:
        child = _received_by_type[kind] = MESSAGES_RECEIVED.labels(kind)
    child.inc()


def count_sent(counts: Iterable[tuple[str, int]]) -> None:
    """``counts``: (message type, how many) for one socket's batch (``Batch.type_counts``)."""
    sent = _PLAIN.sent
    for kind, count in counts:
        sent[kind] += count


# ---------------------------------------------------------------- the store's observer


class StoreMetrics:
    """Told of every commit and every load by the event store (``EventStore(observer=…)``)."""

    def __init__(self, answer_event: str = "AnswerSubmitted", room_class: str = "Room") -> None:
        self.answer_event = answer_event
        self.room_class = room_class

    def saved(self, events: Sequence[Any], seconds: float) -> None:
        SAVE_SECONDS.observe(seconds)
        EVENTS_PER_SAVE.observe(len(events))
        answers = sum(1 for event in events if type(event).__name__ == self.answer_event)
        if answers:
            ANSWERS_PER_SAVE.observe(answers)
            ANSWERS_STORED.inc(answers)

    def save_failed(self, seconds: float, conflict: bool) -> None:
        SAVE_SECONDS.observe(seconds)
        SAVE_FAILURES.inc()
        if not conflict:
            SAVE_ERRORS.inc()

    def loaded(self, aggregate: Any, seconds: float) -> None:
        if type(aggregate).__name__ == self.room_class:
            ROOM_REPLAY_SECONDS.observe(seconds)


# ---------------------------------------------------------------- garbage collection

_gc_started: float | None = None


def _on_gc(phase: str, info: dict[str, int]) -> None:
    global _gc_started
    if phase == "start":
        _gc_started = time.perf_counter()
    elif _gc_started is not None:
        GC_PAUSE_SECONDS.labels(str(info.get("generation", "?"))).observe(time.perf_counter() - _gc_started)
        _gc_started = None


def watch_gc() -> None:
    """Time every collection from now on (once per process)."""
    if _on_gc not in gc.callbacks:
        gc.callbacks.append(_on_gc)
