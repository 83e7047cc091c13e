"""Room leases: which node serves which room, until when, on the database's clock.

A node serves a room only while it holds the room's lease: a row of
``cluster_leases`` naming the node, an epoch (how many times the room changed
hands) and an expiry computed by PostgreSQL (``now() + ttl``), so the nodes'
own clocks never have to agree. A node renews all its leases in one statement
a second (``LeaseKeeper``). It measures each lease's safety on its own
monotonic clock from the moment it *sent* the statement that set the expiry:
the database cannot have set an expiry earlier than that, so a lease the node
believes valid always is. A little before that time runs out without a
successful renewal (the database unreachable, the process frozen), the node
stops the room itself (its sockets close with 1012) before another node can
take it.

Session advisory locks are not used for this: a pooled connection is recycled,
and a crashed host's session lingers until TCP keepalive gives up (about 2 h).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import psycopg
from psycopg import sql

from quiz_actors import metrics
from quiz_actors.cluster.database import ClusterDatabase
from quiz_actors.cluster.schema import LEASES

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Owner:
    """The node whose lease on a room is valid now, and for how much longer."""

    node: str
    epoch: int
    seconds_left: float


class LeaseTable:
    """The statements on ``cluster_leases``; each is one round trip."""

    def __init__(self, database: ClusterDatabase, node: str, ttl_s: float):
        self.database = database
        self.node = node
        self.ttl = f"{int(ttl_s * 1000)} milliseconds"
        table = database.table(LEASES)
        # A new room, a room whose lease expired, or this node's own (a restart
        # under the same name): the epoch goes up, which fences the former owner.
        self._acquire = sql.SQL(
            "INSERT INTO {t} AS lease (room_id, node_id, epoch, expires_at)"
            " VALUES (%s, %s, 1, now() + %s::interval)"
            " ON CONFLICT (room_id) DO UPDATE SET node_id = EXCLUDED.node_id,"
            " epoch = lease.epoch + 1, expires_at = EXCLUDED.expires_at"
            " WHERE lease.expires_at <= now() OR lease.node_id = EXCLUDED.node_id"
            " RETURNING epoch"
        ).format(t=table)
        self._owner = sql.SQL(
            "SELECT node_id, epoch, extract(epoch FROM expires_at - now())::float8 FROM {t}"
            " WHERE room_id = %s AND expires_at > now()"
        ).format(t=table)
        self._renew = sql.SQL(
            "UPDATE {t} SET expires_at = now() + %s::interval"
            " WHERE node_id = %s AND room_id = ANY(%s) AND expires_at > now() RETURNING room_id, epoch"
        ).format(t=table)
        self._held = sql.SQL("SELECT room_id FROM {t} WHERE room_id = ANY(%s) AND expires_at > now()").format(
            t=table
        )
        self._holds = sql.SQL(
            "SELECT 1 FROM {t} WHERE room_id = %s AND node_id = %s AND epoch = %s AND expires_at > now()"
        ).format(t=table)
        self._release = sql.SQL(
            "UPDATE {t} SET expires_at = now()"
            " WHERE node_id = %s AND room_id = ANY(%s) AND expires_at > now()"
        ).format(t=table)
        self._latest_expiry = sql.SQL(
            "SELECT max(expires_at) FROM {t} WHERE node_id = %s AND expires_at > now()"
        ).format(t=table)

    def acquire(self, room_id: str) -> int | None:
        """Take the room's lease: its new epoch, or None while another node holds it."""
        rows = self.database.execute(self._acquire, (room_id, self.node, self.ttl))
        return int(rows[0][0]) if rows else None

    def owner(self, room_id: str) -> Owner | None:
        """Who holds the room's lease now; None if nobody does (never taken, expired, released)."""
        rows = self.database.execute(self._owner, (room_id,))
        if not rows:
            return None
        node, epoch, left = rows[0]
        return Owner(str(node), int(epoch), float(left))

    def held(self, room_ids: list[str]) -> set[str]:
        """Those of these rooms whose lease some node (this one too) holds now: one statement."""
        return {str(row[0]) for row in self.database.execute(self._held, (room_ids,))}

    def renew(self, room_ids: list[str]) -> dict[str, int]:
        """Extend this node's leases on these rooms; those it still holds, with their epochs."""
        rows = self.database.execute(self._renew, (self.ttl, self.node, room_ids))
        return {str(room_id): int(epoch) for room_id, epoch in rows}

    def holds(self, room_id: str, epoch: int) -> bool:
        return bool(self.database.execute(self._holds, (room_id, self.node, epoch)))

    def release(self, room_ids: list[str]) -> None:
        """Let these rooms go now: another node may take them at once (a drain, a closed room)."""
        if room_ids:
            self.database.execute(self._release, (self.node, room_ids))

    def latest_expiry(self) -> datetime | None:
        """When the last of this node name's valid leases runs out, or None if none is valid."""
        expiry: datetime | None = self.database.execute(self._latest_expiry, (self.node,))[0][0]
        return expiry


def renewed_elsewhere(leases: LeaseTable, wait_s: float) -> bool:
    """Whether another process renews leases under this node's name, asked before this
    process takes any: are there valid leases of the name, and does their expiry move
    within ``wait_s`` (longer than the renewal interval)? A process that crashed under the
    name and is being restarted left its leases valid for up to the TTL, but renews none
    of them; one that stopped cleanly let them all go. Then this costs one statement."""
    first = leases.latest_expiry()
    if first is None:
        return False
    time.sleep(wait_s)
    later = leases.latest_expiry()
    return later is not None and later > first


@dataclass
class _Held:
    epoch: int
    safe_until: float  # time.monotonic(): stop serving the room before then without a renewal


class LeaseKeeper:
    """Renews this node's leases every ``renew_s`` in one statement, and tells
    ``on_lost(room_id, epoch)`` of each lease it lost or can no longer vouch for."""

    def __init__(
        self,
        leases: LeaseTable,
        ttl_s: float,
        renew_s: float,
        on_lost: Callable[[str, int], None],
    ):
        self.leases = leases
        self.ttl_s = ttl_s
        self.renew_s = renew_s
        # Stop this long before the lease could expire: the room still saves what
        # it decided and closes its sockets while the lease is certainly ours.
        self.margin_s = max(renew_s, ttl_s / 4)
        self.on_lost = on_lost
        self._held: dict[str, _Held] = {}
        # Rooms this process is taking again while it may still hold an older lease on them:
        # a renewal answered meanwhile may name the new epoch before ``_held`` does.
        self._acquiring: set[str] = set()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        for target, name in ((self._renew_forever, "lease-renewer"), (self._watch_forever, "lease-watch")):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stopping.set()
        for thread in self._threads:
            thread.join(timeout=5)

    def acquire(self, room_id: str) -> int | None:
        """Take the room's lease and keep it renewed; its epoch, or None if another node holds it."""
        with self._lock:
            self._acquiring.add(room_id)
        epoch = None
        try:
            sent = time.monotonic()
            epoch = self.leases.acquire(room_id)
        finally:
            with self._lock:
                self._acquiring.discard(room_id)
                if epoch is not None:
                    self._held[room_id] = _Held(epoch, sent + self.ttl_s - self.margin_s)
                    self._count_held()
        return epoch

    def _count_held(self) -> None:
        """The gauge of leases held, after a change to ``_held`` (called under the lock)."""
        metrics.LEASES_HELD.set(len(self._held))

    def epoch_of(self, room_id: str) -> int | None:
        with self._lock:
            held = self._held.get(room_id)
        return None if held is None else held.epoch

    def found_lost(self, room_id: str, epoch: int, same_name: bool = False) -> None:
        """The room found out itself that this lease is gone (a newer takeover stored, or
        the lease table after a failed save): stop renewing it, and count it once, unless
        a renewal already found it (the same lock decides). ``same_name``: the one that
        took it runs under this node's name."""
        with self._lock:
            held = self._held.get(room_id)
            if held is None or held.epoch != epoch:
                return
            del self._held[room_id]
            self._count_held()
        if same_name:
            self._name_shared(room_id, epoch)
        else:
            metrics.LEASES_LOST.labels("fenced").inc()

    def _name_shared(self, room_id: str, epoch: int) -> None:
        metrics.LEASES_LOST.labels("same_name").inc()
        log.error(
            "room %s: taken by another process running as node %r (this process held it at epoch %d): "
            "two processes share --node-id %s; give each node a name of its own. Stopping the room here",
            room_id,
            self.leases.node,
            epoch,
            self.leases.node,
        )

    def forget(self, room_id: str) -> None:
        """No longer renew this room's lease (it was lost: it expires by itself)."""
        with self._lock:
            self._held.pop(room_id, None)
            self._count_held()

    def release(self, room_ids: list[str]) -> None:
        """Stop renewing these rooms and let another node take them at once."""
        with self._lock:
            for room_id in room_ids:
                self._held.pop(room_id, None)
            self._count_held()
        try:
            self.leases.release(room_ids)
        except psycopg.Error:
            log.warning("could not release %d room lease(s); they expire by themselves", len(room_ids))

    def release_all(self) -> None:
        with self._lock:
            room_ids = list(self._held)
        self.release(room_ids)

    def held_rooms(self) -> list[str]:
        with self._lock:
            return list(self._held)

    def renew_once(self) -> None:
        with self._lock:
            room_ids = list(self._held)
        sent = time.monotonic()
        try:
            # With no room the statement still runs (it renews nothing): the node's
            # metrics keep saying whether it reaches PostgreSQL when it serves no room,
            # before it takes one and after an outage made it give them all up.
            renewed = self.leases.renew(room_ids)
        except psycopg.Error as e:
            metrics.LEASE_RENEWAL_FAILURES.inc()
            if room_ids:
                log.warning("lease renewal failed (%s); rooms stop before their leases can expire", e)
            return
        metrics.LEASE_RENEWAL_SECONDS.observe(time.monotonic() - sent)
        metrics.LEASES_RENEWED_AT.set(time.time())
        lost: list[tuple[str, int]] = []  # (room, the epoch this process held)
        shared: list[tuple[str, int]] = []
        with self._lock:
            for room_id in room_ids:
                held = self._held.get(room_id)
                if held is None or room_id in self._acquiring:
                    continue  # released meanwhile, or being taken again: its acquire records it
                epoch = renewed.get(room_id)
                if epoch == held.epoch:
                    held.safe_until = max(held.safe_until, sent + self.ttl_s - self.margin_s)
                    continue
                if epoch is not None and epoch < held.epoch:
                    continue  # renewed before this process took the room again: the newer lease stands
                del self._held[room_id]
                # Renewed under this node's name, but at another epoch: a process that is not
                # this one took the room as this node (the lease table lets a node retake its
                # own rooms at once, for a restart). So two processes share the node's name.
                (lost if epoch is None else shared).append((room_id, held.epoch))
            self._count_held()
        metrics.LEASES_LOST.labels("taken").inc(len(lost))
        for room_id, epoch in lost:
            log.warning("room %s: lease lost to another node; stopping it here", room_id)
            self.on_lost(room_id, epoch)
        for room_id, epoch in shared:
            self._name_shared(room_id, epoch)
            self.on_lost(room_id, epoch)

    def stop_overdue(self) -> None:
        """Stop serving every room whose lease this node can no longer vouch for."""
        now = time.monotonic()
        with self._lock:
            overdue = [(room, held.epoch) for room, held in self._held.items() if held.safe_until <= now]
            for room_id, _ in overdue:
                del self._held[room_id]
            self._count_held()
        metrics.LEASES_LOST.labels("not_renewed").inc(len(overdue))
        for room_id, epoch in overdue:
            log.warning("room %s: lease not renewed in time; stopping it before it can expire", room_id)
            self.on_lost(room_id, epoch)

    def _renew_forever(self) -> None:
        while not self._stopping.wait(self.renew_s):
            try:
                self.renew_once()
            except Exception:
                log.exception("lease renewal failed")

    def _watch_forever(self) -> None:
        # Apart from the renewals: a renewal stuck on an unreachable database must
        # not keep the node serving past its leases.
        while not self._stopping.wait(min(0.1, self.renew_s / 4)):
            try:
                self.stop_overdue()
            except Exception:
                log.exception("lease watch failed")
