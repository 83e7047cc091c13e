"""The one place that turns a store URL into eventsourcing settings.

Accepted URLs:

* ``sqlite:///relative/path.sqlite3`` or ``sqlite:////absolute/path.sqlite3``
  (the embedded default; the folder is created if missing), and
  ``sqlite:///:memory:`` for throw-away stores;
* ``postgresql://user[:password]@host[:port]/dbname[?schema=name]``
  (``postgres://`` too).

SQLite runs with ``synchronous=FULL``: eventsourcing switches the file to WAL
mode but leaves ``synchronous`` at NORMAL, which in WAL mode can lose the last
commits on a power cut. An answer we acknowledged must survive that.

PostgreSQL saves in one round trip (``OneTripPostgresRecorder``, in ``eventstore/postgres.py``,
which eventsourcing imports only for a PostgreSQL store: a SQLite server never loads psycopg).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from typing import Any
from urllib.parse import SplitResult, parse_qs, unquote, urlsplit
from uuid import UUID

from eventsourcing.sqlite import (
    SQLiteApplicationRecorder,
    SQLiteConnection,
    SQLiteConnectionPool,
    SQLiteFactory,
)
from eventsourcing.utils import Environment, EnvType

DEFAULT_STORE_URL = "sqlite:///quiz-data/events.sqlite3"

# PostgreSQL: how long a save may wait for a lock or run before it fails, so a
# stuck database cannot hang a room forever (seconds).
POSTGRES_LOCK_TIMEOUT_S = 5
POSTGRES_IDLE_IN_TRANSACTION_TIMEOUT_S = 10
POSTGRES_CONNECT_TIMEOUT_S = 2  # also how long a save waits for a free pooled connection
POSTGRES_STATEMENT_TIMEOUT_MS = 10_000

# The timeouts above run on the database's side, so they cannot end a wait for a
# database that has gone silent: a host that died, or a network that drops packets
# instead of refusing them. Left to TCP, a statement sent then waits ~15 minutes
# (the kernel's retransmissions), and one waiting for its answer ~2 hours (libpq's
# keepalives with the system's settings), with a room's thread, or a cluster node's
# lease renewals, held all that time. So every connection asks TCP to give up on
# data unacknowledged for POSTGRES_TCP_TIMEOUT_S (``tcp_user_timeout``), and to probe
# a connection idle for POSTGRES_KEEPALIVE_IDLE_S, once a second. A statement sent
# into the silence fails ~5 s after it was sent; one waiting for its answer when the
# database fell silent fails ~5 s after the database was last heard from
# (tests/test_silent_database.py). That second bound needs the probes: Linux applies
# the timeout to them once one is out (tcp(7): it overrides the keepalive count),
# so they start well within it; the count matters only on systems without
# ``tcp_user_timeout``.
POSTGRES_TCP_TIMEOUT_S = 5
POSTGRES_KEEPALIVE_IDLE_S = 2
POSTGRES_KEEPALIVE_INTERVAL_S = 1
POSTGRES_KEEPALIVE_COUNT = 3


def postgres_tcp_liveness() -> dict[str, Any]:
    """libpq's connection parameters for POSTGRES_TCP_TIMEOUT_S and the keepalives."""
    return {
        "tcp_user_timeout": POSTGRES_TCP_TIMEOUT_S * 1000,
        "keepalives": 1,
        "keepalives_idle": POSTGRES_KEEPALIVE_IDLE_S,
        "keepalives_interval": POSTGRES_KEEPALIVE_INTERVAL_S,
        "keepalives_count": POSTGRES_KEEPALIVE_COUNT,
    }


# How long a failed save or read is retried (``retried_within_bound`` in
# eventstore/postgres.py). While a room saves or loads, its actor and one of the
# rooms' 4 worker threads wait and its players hear nothing. eventsourcing retries
# a failed save or read 10 times, whatever failed: with the events table locked
# elsewhere a save went on for ~52 s (10 lock timeouts), with the database stopped
# a save for ~12 s, and a join that had to load its room (once when the room's
# actor starts, once more for the join) for ~34 s. So an attempt that timed out on
# the server (the lock timeout, the statement timeout) is not retried, it already
# waited its whole bound: with the table locked, the players hear ``busy`` after
# POSTGRES_LOCK_TIMEOUT_S. Other errors (a connection lost or refused) are retried
# until POSTGRES_RETRY_S after the first attempt began: a restarted database leaves
# broken connections in the pool, each of which fails at once and costs one
# attempt. A stopped database fails a save or a read in ~3 s; one that cannot be
# reached in about POSTGRES_RETRY_S + POSTGRES_CONNECT_TIMEOUT_S (an attempt waits
# that long for a connection).
POSTGRES_RETRY_S = 3.0
POSTGRES_RETRY_WAIT_S = 0.2  # between attempts, as eventsourcing waits


class StoreUrlError(ValueError):
    pass


class DurableSQLiteConnectionPool(SQLiteConnectionPool):
    def _create_connection(self) -> SQLiteConnection:
        connection = super()._create_connection()
        connection.cursor().execute("PRAGMA synchronous=FULL;")
        return connection


class VersionsSQLiteRecorder(SQLiteApplicationRecorder):
    """eventsourcing's SQLite recorder, which also tells the last versions of many aggregates."""

    def last_versions(self, aggregate_ids: Sequence[UUID]) -> dict[UUID, int]:
        """Each stored aggregate's last version, in one statement (none for an id never stored).

        A subquery per id rather than ``GROUP BY``: SQLite finds a ``MAX`` over the
        primary key in the index at once, where a grouping would read every event of
        each aggregate. The ids go in as one JSON array, so their number has no limit.
        """
        statement = (
            f"SELECT value, (SELECT MAX(originator_version) FROM {self.events_table_name} "
            "WHERE originator_id = value) FROM json_each(?)"
        )
        ids = json.dumps([aggregate_id.hex for aggregate_id in aggregate_ids])  # as the library stores them
        with self.datastore.transaction(commit=False) as c:
            c.execute(statement, (ids,))
            return {UUID(row[0]): int(row[1]) for row in c.fetchall() if row[1] is not None}


class DurableSQLiteFactory(SQLiteFactory):
    """eventsourcing's SQLite factory, with every connection set to synchronous=FULL
    and the recorder that tells many aggregates' versions at once."""

    application_recorder_class = VersionsSQLiteRecorder

    def __init__(self, env: Environment | EnvType | None):
        super().__init__(env)
        plain = self.datastore.pool
        self.datastore.pool = DurableSQLiteConnectionPool(
            db_name=plain.db_name, lock_timeout=plain.lock_timeout
        )
        plain.close()


def env_for_store(url: str) -> dict[str, str]:
    """eventsourcing environment settings for a store URL."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "sqlite":
        return _sqlite_env(url, parts)
    if scheme in ("postgresql", "postgres"):
        return _postgres_env(parts)
    raise StoreUrlError(
        f"Unsupported store URL {redact(url)!r}: use sqlite:///path or postgresql://user@host:port/db"
    )


def _sqlite_env(url: str, parts: SplitResult) -> dict[str, str]:
    if parts.netloc:
        raise StoreUrlError("A SQLite URL has three slashes: sqlite:///relative/path or sqlite:////abs/path")
    path = unquote(parts.path[1:]) if parts.path.startswith("/") else unquote(parts.path)
    if not path:
        raise StoreUrlError("A SQLite URL needs a file path, e.g. sqlite:///quiz-data/events.sqlite3")
    if path != ":memory:":
        folder = os.path.dirname(os.path.abspath(path))
        os.makedirs(folder, exist_ok=True)
        path = os.path.abspath(path)
    else:
        path = "file::memory:?cache=shared"
    return {
        "PERSISTENCE_MODULE": "eventstore.persistence:DurableSQLiteFactory",
        "SQLITE_DBNAME": path,
        "SQLITE_LOCK_TIMEOUT": "10",
    }


def _postgres_env(parts: SplitResult) -> dict[str, str]:
    dbname = unquote(parts.path.lstrip("/"))
    if not dbname:
        raise StoreUrlError("A PostgreSQL URL names a database: postgresql://user@host:5432/dbname")
    query = parse_qs(parts.query)
    env = {
        "PERSISTENCE_MODULE": "eventstore.postgres:BoundedPostgresFactory",
        "POSTGRES_DBNAME": dbname,
        "POSTGRES_HOST": parts.hostname or "127.0.0.1",
        "POSTGRES_PORT": str(parts.port or 5432),
        "POSTGRES_USER": unquote(parts.username or "postgres"),
        "POSTGRES_PASSWORD": unquote(parts.password or ""),
        "POSTGRES_CONNECT_TIMEOUT": str(POSTGRES_CONNECT_TIMEOUT_S),
        "POSTGRES_LOCK_TIMEOUT": str(POSTGRES_LOCK_TIMEOUT_S),
        "POSTGRES_IDLE_IN_TRANSACTION_SESSION_TIMEOUT": str(POSTGRES_IDLE_IN_TRANSACTION_TIMEOUT_S),
        "POSTGRES_POOL_SIZE": "4",
        "POSTGRES_MAX_OVERFLOW": "4",
        # No ping before each use of a pooled connection: it cost a round trip and
        # a quarter of a save's CPU. A connection that died meanwhile (the
        # database restarted) fails its statement, the pool discards it, and
        # eventsourcing retries the save on a new one (tests/test_hardening_e2e.py
        # restarts a private PostgreSQL mid-question).
        "POSTGRES_PRE_PING": "n",
    }
    if "schema" in query:
        env["POSTGRES_SCHEMA"] = query["schema"][0]
    return env


def why_unreachable(url: str, error: BaseException) -> str:
    """The reason a store could not be opened, in the database's own words where it has
    any. The pool that opens PostgreSQL connections only says it "couldn't get a
    connection after 2.00 sec", whatever the cause; one connection made here says why
    (a role or database that does not exist, a refused password, nothing listening)."""
    said = _in_one_line(error)
    env = env_for_store(url)
    if "POSTGRES_DBNAME" not in env:
        return said
    import psycopg  # only here: a SQLite server never loads it

    try:
        with psycopg.connect(
            dbname=env["POSTGRES_DBNAME"],
            host=env["POSTGRES_HOST"],
            port=env["POSTGRES_PORT"],
            user=env["POSTGRES_USER"],
            password=env["POSTGRES_PASSWORD"] or None,
            connect_timeout=POSTGRES_CONNECT_TIMEOUT_S,
        ):
            return said  # it answers now: what failed before is all there is to say
    except psycopg.Error as refused:
        return _in_one_line(refused)


def _in_one_line(error: BaseException) -> str:
    # libpq's reasons run over lines: "connection failed: … port 5432 failed: Connection
    # refused" then "Is the server running on that host and accepting TCP/IP connections?"
    lines = [" ".join(line.split()) for line in str(error).splitlines() if line.strip()]
    return " ".join(lines) or type(error).__name__


def redact(url: str) -> str:
    """The URL without its password, for logs and errors."""
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(":" + parts.password + "@", ":***@")
        return parts._replace(netloc=netloc).geturl()
    return url


def describe_store(url: str) -> str:
    env = env_for_store(url)
    if "SQLITE_DBNAME" in env:
        return f"SQLite at {env['SQLITE_DBNAME']}"
    schema = env.get("POSTGRES_SCHEMA", "public")
    return (
        f"PostgreSQL database {env['POSTGRES_DBNAME']} on {env['POSTGRES_HOST']}:"
        f"{env['POSTGRES_PORT']} as {env['POSTGRES_USER']} (schema {schema})"
    )
