"""The cluster's tables, and opening the event store when several nodes start at once.

eventsourcing creates its tables with ``CREATE TABLE IF NOT EXISTS``, which in
PostgreSQL is not safe to run at the same moment from two sessions: the loser
fails on a catalog unique index (``pg_type_typname_nsp_index``). Nodes started
together therefore create the store and the cluster's tables one at a time,
under an advisory lock held only for that (start-up only: leases never use one).
"""

from __future__ import annotations

from typing import Any

from psycopg import sql

from eventstore import EventStore
from quiz_actors.cluster.database import ClusterDatabase

LEASES = "cluster_leases"
JOIN_FAILURES = "cluster_join_failures"
LOCKOUTS = "cluster_lockouts"

_CREATE = (
    # Who serves which room, until when (the database's clock), and how many times
    # the room changed hands (the epoch: the fencing token its takeover event records).
    "CREATE TABLE IF NOT EXISTS {leases} ("
    " room_id text PRIMARY KEY, node_id text NOT NULL, epoch bigint NOT NULL,"
    " expires_at timestamptz NOT NULL)",
    "CREATE INDEX IF NOT EXISTS {leases_by_node} ON {leases} (node_id)",
    # Joins with an unknown code, per address, for the lockout every node applies.
    "CREATE TABLE IF NOT EXISTS {failures} (address text NOT NULL, at timestamptz NOT NULL)",
    "CREATE INDEX IF NOT EXISTS {failures_by_address} ON {failures} (address, at)",
    "CREATE TABLE IF NOT EXISTS {lockouts} (address text PRIMARY KEY, until timestamptz NOT NULL)",
)


def open_store(database: ClusterDatabase, store_url: str, observer: Any = None) -> EventStore:
    """The event store and the cluster's tables, created by one starting node at a time."""
    with database.connect() as connection:
        key = f"quiz-actors:schema:{database.schema}"
        connection.execute("SELECT pg_advisory_lock(hashtext(%s))", (key,))
        try:
            store = EventStore(store_url, observer=observer)
            names = {
                "leases": database.table(LEASES),
                "leases_by_node": sql.Identifier(f"{LEASES}_by_node"),
                "failures": database.table(JOIN_FAILURES),
                "failures_by_address": sql.Identifier(f"{JOIN_FAILURES}_by_address"),
                "lockouts": database.table(LOCKOUTS),
            }
            for statement in _CREATE:
                connection.execute(sql.SQL(statement).format(**names))
        finally:
            connection.execute("SELECT pg_advisory_unlock(hashtext(%s))", (key,))
    return store
