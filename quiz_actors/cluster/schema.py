"""The cluster's tables, and opening the event store when several nodes start at once.

eventsourcing creates its tables with ``CREATE TABLE IF NOT EXISTS``, which in
PostgreSQL is not safe to run at the same moment from two sessions: the loser
fails on a catalog unique index (``pg_type_typname_nsp_index``). So a starting
node first asks, in one query, whether every table is there (every start after
the first: no lock, nothing created). If not, it creates the store's and the
cluster's tables in one transaction holding a transaction-level advisory lock,
asking again once it holds it: nodes started together wait for the first one's
single commit and find everything there, and the lock goes with the commit
(start-up only: leases never use one).
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql

from eventstore import EventStore
from eventstore.persistence import env_for_store
from quiz_actors.cluster.database import ClusterDatabase

LEASES = "cluster_leases"
WRONG_CODES = "cluster_wrong_codes"
LOCKOUTS = "cluster_lockouts"

_CREATE = (
    # Who serves which room, until when (the database's clock), and how many times
    # the room changed hands (the epoch: the fencing token its takeover event records).
    "CREATE TABLE IF NOT EXISTS {leases} ("
    " room_id text PRIMARY KEY, node_id text NOT NULL, epoch bigint NOT NULL,"
    " expires_at timestamptz NOT NULL)",
    "CREATE INDEX IF NOT EXISTS {leases_by_node} ON {leases} (node_id)",
    # Unknown codes tried from an address, each code once (when it was first tried
    # within the last minute), for the lockout every node applies.
    "CREATE TABLE IF NOT EXISTS {wrong_codes} ("
    " address text NOT NULL, code text NOT NULL, at timestamptz NOT NULL, PRIMARY KEY (address, code))",
    "CREATE TABLE IF NOT EXISTS {lockouts} (address text PRIMARY KEY, until timestamptz NOT NULL)",
)


def open_store(database: ClusterDatabase, store_url: str, observer: Any = None) -> EventStore:
    """The event store, its tables and the cluster's created by exactly one starting node."""
    # The store's recorders only build their statements here: this module runs them.
    store = EventStore({**env_for_store(store_url), "CREATE_TABLE": "n"}, observer=observer)
    try:
        with database.connect() as connection:
            if not _created(connection, database, store):
                _create(connection, database, store)
        # The library's snapshot inserts write rows of the store's composite type (event
        # saves send plain arrays): its adapter can only be registered once the type
        # exists (eventsourcing does so after creating).
        store.factory.datastore.register_type_adapters()  # type: ignore[attr-defined]
    except BaseException:
        store.close()
        raise
    return store


def _recorders(store: EventStore) -> list[Any]:
    """The store's PostgreSQL recorders (eventstore/postgres.py): of its events and its snapshots."""
    recorders: list[Any] = [store.recorder]
    if store.snapshots is not None:
        recorders.append(store.snapshots.recorder)
    return recorders


def _tables(database: ClusterDatabase, store: EventStore) -> list[str]:
    names = [recorder.events_table_name for recorder in _recorders(store)]
    return [f"{database.schema}.{name}" for name in (*names, LEASES, WRONG_CODES, LOCKOUTS)]


def _functions(connection: psycopg.Connection[Any], store: EventStore) -> list[tuple[str, str]]:
    """The store's functions (eventstore/postgres.py), each with its body as this release writes it."""
    functions = []
    for recorder in _recorders(store):
        for statement in recorder.sql_create_statements:
            text = statement.as_string(connection)
            if "CREATE OR REPLACE FUNCTION" in text:
                functions.append((recorder.pg_function_name_insert_events, text.split("$BODY$")[1]))
    return functions


def _created(connection: psycopg.Connection[Any], database: ClusterDatabase, store: EventStore) -> bool:
    """Whether every table is there, and every function with this release's body (one round trip).

    An earlier release's body (an upgrade) counts as missing: it is replaced, under the lock.
    """
    tables = _tables(database, store)
    functions = _functions(connection, store)
    row = connection.execute(
        "SELECT (SELECT count(to_regclass(name)) FROM unnest(%s::text[]) AS name),"
        " (SELECT count(*) FROM pg_proc JOIN pg_namespace ON pg_namespace.oid = pronamespace"
        "  WHERE nspname = %s AND (proname, prosrc) IN (SELECT * FROM unnest(%s::text[], %s::text[])))",
        (tables, database.schema, [name for name, _ in functions], [body for _, body in functions]),
    ).fetchone()
    return row is not None and (row[0], row[1]) == (len(tables), len(functions))


def _create(connection: psycopg.Connection[Any], database: ClusterDatabase, store: EventStore) -> None:
    names = {
        "leases": database.table(LEASES),
        "leases_by_node": sql.Identifier(f"{LEASES}_by_node"),
        "wrong_codes": database.table(WRONG_CODES),
        "lockouts": database.table(LOCKOUTS),
    }
    with connection.transaction():
        key = f"quiz-actors:schema:{database.schema}"
        connection.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (key,))
        if _created(connection, database, store):
            return  # another node created them while this one waited for the lock
        for recorder in _recorders(store):
            for statement in recorder.sql_create_statements:
                text = statement.as_string(connection)
                if "CREATE TYPE" in text:
                    # CREATE TYPE has no IF NOT EXISTS: under the lock, look first.
                    type_name = f"{database.schema}.{recorder.stored_event_type_name}"
                    exists = connection.execute("SELECT to_regtype(%s)", (type_name,)).fetchone()
                    if exists is not None and exists[0] is not None:
                        continue
                connection.execute(statement, prepare=False)
        for statement in _CREATE:
            connection.execute(sql.SQL(statement).format(**names))
