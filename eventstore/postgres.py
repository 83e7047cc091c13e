"""The PostgreSQL side of the store: imported by eventsourcing only for a ``postgresql://`` URL
(``env_for_store`` names it), so a server on SQLite never loads psycopg.

PostgreSQL saves in one round trip (``OneTripPostgresRecorder``), a failed save or
read is retried for a bounded time (``retried_within_bound``) and every connection
has a statement timeout and TCP's own timeouts, for a database that goes silent
(``BoundedPostgresFactory``).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
import os
import socket
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar, cast
from uuid import UUID

import psycopg
from eventsourcing.persistence import InterfaceError, OperationalError, StoredEvent
from eventsourcing.postgres import (
    PostgresAggregateRecorder,
    PostgresApplicationRecorder,
    PostgresDatastore,
    PostgresFactory,
)
from eventsourcing.utils import Environment, EnvType
from psycopg import errors
from psycopg.sql import SQL, Identifier
from psycopg_pool.base import AttemptWithBackoff

from eventstore.persistence import (
    POSTGRES_RETRY_S,
    POSTGRES_RETRY_WAIT_S,
    POSTGRES_STATEMENT_TIMEOUT_MS,
    postgres_tcp_liveness,
)

# Errors for which the server already waited out a timeout of its own: the lock
# timeout (another transaction holds the events table) and the statement timeout.
_TIMED_OUT_ON_THE_SERVER = (errors.LockNotAvailable, errors.QueryCanceled)

# The library's recorder methods that retry 10 times whatever failed, each replaced
# below by ``retried_within_bound``, around the library's statement or one of ours
# (tests/test_library_assumptions.py checks that each is still the library's retry
# decorator, so none of its ten attempts is inherited):
# the events' recorder, and the snapshots' (a snapshot written while the database
# was down held a room's thread, or the hub's, for ten attempts: 11.8 s, now 3.0 s;
# scripts/snapshot_while_down.py).
LIBRARY_RETRIES_REPLACED = ("insert_events", "select_events", "select_notifications", "max_notification_id")
LIBRARY_SNAPSHOT_RETRIES_REPLACED = ("insert_events", "select_events")

Statement = TypeVar("Statement", bound=Callable[..., Any])


def retried_within_bound(statement: Statement) -> Statement:
    """``statement`` (a recorder method: one save or read) retried within a bound of
    its own (eventstore/persistence.py, POSTGRES_RETRY_S says why): not after a lock
    or statement timeout, and after a connection error only until POSTGRES_RETRY_S
    has passed. A library method loses its own retry decorator first."""
    once = inspect.unwrap(statement)

    @functools.wraps(once)
    def bounded(*args: Any, **kwargs: Any) -> Any:
        started = time.monotonic()
        while True:
            try:
                return once(*args, **kwargs)
            except (InterfaceError, OperationalError) as error:
                if isinstance(error.__cause__, _TIMED_OUT_ON_THE_SERVER):
                    raise
                if time.monotonic() - started >= POSTGRES_RETRY_S:
                    raise
            time.sleep(POSTGRES_RETRY_WAIT_S)

    return cast(Statement, bounded)


# A health check's question gives up after this: within HAProxy's `timeout check`
# (1 s), so that a check never waits on the one before it.
PING_TIMEOUT_S = 1.0
PING_TIMEOUT_MS = int(PING_TIMEOUT_S * 1000)  # the same on the server's clock


class PingConnection:
    """One connection of its own for health checks, kept open between them: not one of
    the pool's, which after a restart of the database holds broken connections that
    each fail one check, and which a busy server may have none free of. One attempt,
    on the caller's event loop, given up after PING_TIMEOUT_S (connecting included):
    a connection that failed or timed out is closed, and the next check opens another.
    Only one event loop may use it (the server's)."""

    def __init__(self, connect_kwargs: dict[str, Any]):
        self._kwargs = {
            key: connect_kwargs[key]
            for key in ("dbname", "host", "port", "user", "password")
            if key in connect_kwargs
        }
        self._connection: psycopg.AsyncConnection[Any] | None = None

    async def ping(self) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + PING_TIMEOUT_S
        try:
            async with asyncio.timeout_at(deadline):
                connection = self._connection
                if connection is None or connection.closed:
                    connection = self._connection = await psycopg.AsyncConnection.connect(
                        **self._kwargs,
                        autocommit=True,
                        options=f"-c statement_timeout={PING_TIMEOUT_MS}",
                        **postgres_tcp_liveness(),  # a socket given up on is not kept for minutes
                    )
            await _within(connection, connection.execute("SELECT 1"), deadline - loop.time())
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(psycopg.Error):
                await connection.close()


async def _within(connection: psycopg.AsyncConnection[Any], query: Awaitable[Any], seconds: float) -> None:
    """Await ``query`` on ``connection`` for at most ``seconds``.

    Not by cancelling it: psycopg answers a cancelled query by asking the server to
    cancel it and then waiting for the query to end, up to 5 s each, which against a
    database that has gone silent made one ping take 11 s instead of 1 (and ``/readyz``
    report a database that is back as down for as long). Instead the socket under
    libpq is shut down, so the query fails at once with a lost connection (measured:
    the ping ends 1.00 s after it began); the wait for that is bounded too, so a ping
    never takes more than twice ``seconds``."""
    running = asyncio.ensure_future(query)
    try:
        async with asyncio.timeout(max(0.0, seconds)):
            await asyncio.shield(running)
    finally:
        if not running.done():
            _shut_down_socket(connection)
            await asyncio.wait({running}, timeout=max(0.0, seconds))
        if running.done() and not running.cancelled():
            running.exception()  # seen here: it was timed out or is raised above


def _shut_down_socket(connection: psycopg.AsyncConnection[Any]) -> None:
    """End every wait on the connection's socket now (a duplicate of its descriptor is
    shut down: that ends the socket itself, and libpq keeps its own descriptor)."""
    with contextlib.suppress(OSError, psycopg.Error):
        with socket.socket(fileno=os.dup(connection.pgconn.socket)) as duplicate:
            duplicate.shutdown(socket.SHUT_RDWR)


# How often the store's pool tries again to open a connection it lost (± 10 %).
POOL_RECONNECT_EVERY_S = 0.5


def steady_pool_reconnects() -> None:
    """psycopg_pool replaces a lost connection with exponential backoff (1, 2, 4, 8 s ...
    between attempts): after an outage of ten seconds its next attempt could come eight
    seconds after the database was back, and every save and load waited for it
    (tests/test_cluster_db_down.py: clients back 4-6 s after the database). A steady
    attempt every POOL_RECONNECT_EVERY_S instead: a few refused connections a second
    while the database is away, and the pool back within that of it. Process-wide: the
    store's pool is the only psycopg_pool here (tests/test_library_assumptions.py checks
    that the pool still reads these two numbers)."""
    AttemptWithBackoff.INITIAL_DELAY = POOL_RECONNECT_EVERY_S
    AttemptWithBackoff.DELAY_BACKOFF = 1.0


# The aggregates' events are read by every load of a room, the directory, a quiz.
_select_events = retried_within_bound(PostgresAggregateRecorder.select_events)


class OneTripPostgresRecorder(PostgresApplicationRecorder):
    """eventsourcing's PostgreSQL recorder, saving events in one round trip.

    The library's default save is a pipelined transaction (set the lock
    timeout, lock the events table, notify, insert, fetch the ids, commit): a
    dozen protocol steps and about 0.6 ms of CPU in psycopg per save, which a
    lobby filling at 200 joins a second pays 200 times a second. Its optional
    insert function does the same in one prepared call, but without the table
    lock, and that lock is what makes notification ids commit in order, so a
    reader of the log (the audit tools) never sees id n+1 before id n. This
    recorder installs a function with the lock, under a name of its own (the
    library's name is per schema, not per table), and saves through it.

    The function takes the events as four arrays, one per column, sent in
    binary: psycopg writes an array of uuids, integers, texts or bytes in C.
    The library's function takes one array of a composite type, which psycopg
    writes in Python, escaping every byte of every event's state: ~45 µs of CPU
    an event, most of a PostgreSQL save in an answer burst (~8 µs with the
    arrays; docs/benchmark.md, "PostgreSQL saves in columns"). An earlier
    release's function (``<table>_insert_locked``, one composite array) is left
    in the database, unused, so that release can still run on it.
    """

    def __init__(self, datastore: PostgresDatastore, *, events_table_name: str = "stored_events"):
        super().__init__(datastore, events_table_name=events_table_name)
        schema = Identifier(self.datastore.schema)
        id_type = Identifier(self.datastore.originator_id_type)
        self.pg_function_name_insert_events = f"{self.events_table_name}_insert_columns_locked"
        function = Identifier(self.pg_function_name_insert_events)
        self.sql_insert_columns = SQL(
            "SELECT * FROM {schema}.{function}(%b::{id_type}[], %b::bigint[], %b::text[], %b::bytea[])"
        ).format(schema=schema, function=function, id_type=id_type)
        self.sql_create_statements[self.create_insert_function_statement_index] = SQL(
            "CREATE OR REPLACE FUNCTION {schema}.{function}"
            "(ids {id_type}[], versions bigint[], topics text[], states bytea[]) "
            "RETURNS SETOF bigint LANGUAGE plpgsql AS $BODY$ "
            "BEGIN "
            "  SET LOCAL lock_timeout = '{lock_timeout}s'; "
            "  LOCK TABLE {schema}.{table} IN EXCLUSIVE MODE; "
            "  NOTIFY {channel}; "
            "  RETURN QUERY "
            "  INSERT INTO {schema}.{table} (originator_id, originator_version, topic, state) "
            "  SELECT * FROM unnest(ids, versions, topics, states) "
            "  RETURNING notification_id; "
            "END; $BODY$"
        ).format(
            schema=schema,
            function=function,
            id_type=id_type,
            table=Identifier(self.events_table_name),
            channel=Identifier(self.channel_name),
            lock_timeout=self.datastore.lock_timeout,
        )
        # A subquery per id: each finds its MAX at the end of the primary key's index.
        self.select_last_versions_statement = SQL(
            "SELECT id, (SELECT max(originator_version) FROM {schema}.{table} WHERE originator_id = id)"
            " AS version FROM unnest(%s::{id_type}[]) AS id"
        ).format(
            schema=schema,
            table=Identifier(self.events_table_name),
            id_type=Identifier(self.datastore.originator_id_type),
        )
        self._ping = PingConnection(cast(dict[str, Any], self.datastore.pool.kwargs))

    async def ping_once(self) -> None:
        """One cheap statement on a connection of its own, once (``EventStore.ping_once``)."""
        await self._ping.ping()

    async def close_ping(self) -> None:
        await self._ping.close()

    @retried_within_bound  # the start-up sweep reads it on the hub's thread
    def last_versions(self, aggregate_ids: Sequence[UUID]) -> dict[UUID, int]:
        """Each stored aggregate's last version, in one statement (none for an id never stored)."""
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(self.select_last_versions_statement, (list(aggregate_ids),), prepare=True)
            rows = curs.fetchall()
        return {UUID(str(row["id"])): int(row["version"]) for row in rows if row["version"] is not None}

    @retried_within_bound
    def insert_events(self, stored_events: Sequence[StoredEvent], **_: Any) -> Sequence[int] | None:
        """Store ``stored_events`` in one transaction; their notification ids, in order."""
        ids = [event.originator_id for event in stored_events]
        versions = [event.originator_version for event in stored_events]
        topics = [event.topic for event in stored_events]
        states = [event.state for event in stored_events]
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(self.sql_insert_columns, (ids, versions, topics, states), prepare=True)
            return [row[self.pg_function_name_insert_events] for row in curs.fetchall()]

    select_events = _select_events
    select_notifications = retried_within_bound(PostgresApplicationRecorder.select_notifications)
    max_notification_id = retried_within_bound(PostgresApplicationRecorder.max_notification_id)  # /healthz


class BoundedPostgresAggregateRecorder(PostgresAggregateRecorder):
    """eventsourcing's recorder of the snapshots, read by every load before the
    events and written after a save now and then (``EventStore.snapshot_if_due``,
    on the room's or the hub's thread): both retried within the same bound as the
    events'."""

    insert_events = retried_within_bound(PostgresAggregateRecorder.insert_events)
    select_events = _select_events


class BoundedPostgresFactory(PostgresFactory):
    """eventsourcing's PostgreSQL factory, with a statement timeout and TCP's
    timeouts (``postgres_tcp_liveness``) on every connection, the one-round-trip
    recorder, and reads retried within a bound.

    The library sets lock and idle-in-transaction timeouts; a statement that
    runs on and on (a stuck database) would still hang a room's save forever.
    """

    application_recorder_class = OneTripPostgresRecorder
    aggregate_recorder_class = BoundedPostgresAggregateRecorder

    def __init__(self, env: Environment | EnvType | None):
        super().__init__(env)
        # The pool opens lazily, so its connection arguments can still be added to.
        connect_kwargs = self.datastore.pool.kwargs
        if not isinstance(connect_kwargs, dict):
            raise TypeError("eventsourcing's PostgreSQL pool no longer keeps its connect arguments in a dict")
        connect_kwargs["options"] = f"-c statement_timeout={POSTGRES_STATEMENT_TIMEOUT_MS}"
        connect_kwargs.update(postgres_tcp_liveness())
        steady_pool_reconnects()
