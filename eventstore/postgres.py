"""The PostgreSQL side of the store: imported by eventsourcing only for a ``postgresql://`` URL
(``env_for_store`` names it), so a server on SQLite never loads psycopg.

PostgreSQL saves in one round trip (``OneTripPostgresRecorder``), a failed save
is retried for a bounded time (``OneTripPostgresRecorder.insert_events``) and every
connection has a statement timeout (``BoundedPostgresFactory``).
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import InterfaceError, OperationalError, StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore, PostgresFactory
from eventsourcing.utils import Environment, EnvType, retry
from psycopg import errors
from psycopg.sql import SQL, Identifier

from eventstore.persistence import (
    POSTGRES_SAVE_RETRY_S,
    POSTGRES_SAVE_RETRY_WAIT_S,
    POSTGRES_STATEMENT_TIMEOUT_MS,
)

# The library's insert_events without its retry decorator (10 attempts whatever
# failed), which insert_events below replaces (tests/test_library_assumptions.py
# checks that the decorator is all that is unwrapped).
_insert_events_once = inspect.unwrap(PostgresApplicationRecorder.insert_events)

# Errors for which the server already waited out a timeout of its own: the lock
# timeout (another transaction holds the events table) and the statement timeout.
_TIMED_OUT_ON_THE_SERVER = (errors.LockNotAvailable, errors.QueryCanceled)


class OneTripPostgresRecorder(PostgresApplicationRecorder):
    """eventsourcing's PostgreSQL recorder, saving events in one round trip.

    The library's default save is a pipelined transaction (set the lock
    timeout, lock the events table, notify, insert, fetch the ids, commit): a
    dozen protocol steps and about 0.6 ms of CPU in psycopg per save, which a
    lobby filling at 200 joins a second pays 200 times a second. Its optional
    insert function does the same in one prepared call, but without the table
    lock, and that lock is what makes notification ids commit in order, so a
    reader of the log (the audit tools) never sees id n+1 before id n. This
    recorder installs the function with the lock, under a name of its own
    (the library's name is per schema, not per table), and saves through it
    (``POSTGRES_ENABLE_DB_FUNCTIONS``).
    """

    def __init__(self, datastore: PostgresDatastore, *, events_table_name: str = "stored_events"):
        super().__init__(datastore, events_table_name=events_table_name)
        schema = Identifier(self.datastore.schema)
        self.pg_function_name_insert_events = f"{self.events_table_name}_insert_locked"
        function = Identifier(self.pg_function_name_insert_events)
        self.sql_invoke_pg_function_insert_events = SQL("SELECT * FROM {schema}.{function}((%s))").format(
            schema=schema, function=function
        )
        self.sql_create_statements[self.create_insert_function_statement_index] = SQL(
            "CREATE OR REPLACE FUNCTION {schema}.{function}(events {schema}.{event}[]) "
            "RETURNS SETOF bigint LANGUAGE plpgsql AS $BODY$ "
            "BEGIN "
            "  SET LOCAL lock_timeout = '{lock_timeout}s'; "
            "  LOCK TABLE {schema}.{table} IN EXCLUSIVE MODE; "
            "  NOTIFY {channel}; "
            "  RETURN QUERY "
            "  INSERT INTO {schema}.{table} (originator_id, originator_version, topic, state) "
            "  SELECT originator_id, originator_version, topic, state FROM unnest(events) "
            "  RETURNING notification_id; "
            "END; $BODY$"
        ).format(
            schema=schema,
            function=function,
            table=Identifier(self.events_table_name),
            event=Identifier(self.stored_event_type_name),
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

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)  # as the library's reads
    def last_versions(self, aggregate_ids: Sequence[UUID]) -> dict[UUID, int]:
        """Each stored aggregate's last version, in one statement (none for an id never stored)."""
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(self.select_last_versions_statement, (list(aggregate_ids),), prepare=True)
            rows = curs.fetchall()
        return {UUID(str(row["id"])): int(row["version"]) for row in rows if row["version"] is not None}

    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        """The library's save, retried within a bound (eventstore/persistence.py,
        POSTGRES_SAVE_RETRY_S says why): not after a lock or statement timeout, and
        after a connection error only until POSTGRES_SAVE_RETRY_S has passed."""
        started = time.monotonic()
        while True:
            try:
                ids: Sequence[int] | None = _insert_events_once(self, stored_events, **kwargs)
                return ids
            except (InterfaceError, OperationalError) as error:
                if isinstance(error.__cause__, _TIMED_OUT_ON_THE_SERVER):
                    raise
                if time.monotonic() - started >= POSTGRES_SAVE_RETRY_S:
                    raise
            time.sleep(POSTGRES_SAVE_RETRY_WAIT_S)


class BoundedPostgresFactory(PostgresFactory):
    """eventsourcing's PostgreSQL factory, with a statement timeout on every
    connection and the one-round-trip recorder.

    The library sets lock and idle-in-transaction timeouts; a statement that
    runs on and on (a stuck database) would still hang a room's save forever.
    """

    application_recorder_class = OneTripPostgresRecorder

    def __init__(self, env: Environment | EnvType | None):
        super().__init__(env)
        # The pool opens lazily, so its connection arguments can still be added to.
        connect_kwargs = self.datastore.pool.kwargs
        if not isinstance(connect_kwargs, dict):
            raise TypeError("eventsourcing's PostgreSQL pool no longer keeps its connect arguments in a dict")
        connect_kwargs["options"] = f"-c statement_timeout={POSTGRES_STATEMENT_TIMEOUT_MS}"
