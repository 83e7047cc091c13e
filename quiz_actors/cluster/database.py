"""The node's own PostgreSQL connections, for the cluster's tables (not the event store's pool).

One autocommit connection per thread that asks (the hub, the lease keeper, a
room checking its lease): every statement here is a single statement, so no
transaction is ever left open, and one thread's slow query never holds up
another's. A connection that failed is dropped and opened again next time.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg import sql

from eventstore.persistence import POSTGRES_CONNECT_TIMEOUT_S, env_for_store, postgres_tcp_liveness

# A statement of the cluster's must never stall longer than a lease can wait.
STATEMENT_TIMEOUT_MS = 2_000


class ClusterDatabase:
    def __init__(self, store_url: str):
        env = env_for_store(store_url)
        self.schema = env.get("POSTGRES_SCHEMA", "public")
        self._connect_args: dict[str, Any] = {
            "host": env["POSTGRES_HOST"],
            "port": int(env["POSTGRES_PORT"]),
            "dbname": env["POSTGRES_DBNAME"],
            "user": env["POSTGRES_USER"],
            "password": env["POSTGRES_PASSWORD"] or None,
            "connect_timeout": POSTGRES_CONNECT_TIMEOUT_S,
            "autocommit": True,
            "options": f"-c statement_timeout={STATEMENT_TIMEOUT_MS}",
            # A silent database fails a renewal in seconds instead of holding the
            # keeper's thread for TCP's ~15 minutes (eventstore/persistence.py).
            **postgres_tcp_liveness(),
        }
        self._local = threading.local()
        self._all: list[psycopg.Connection[Any]] = []
        self._lock = threading.Lock()

    def table(self, name: str) -> sql.Composed:
        """A cluster table's name, in the store's schema."""
        return sql.SQL("{}.{}").format(sql.Identifier(self.schema), sql.Identifier(name))

    def connect(self) -> psycopg.Connection[Any]:
        """A new connection of the caller's own (closed by the caller)."""
        return psycopg.connect(**self._connect_args)

    def execute(self, statement: sql.Composed | sql.SQL, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run one statement on this thread's connection; its rows (empty when it returns none)."""
        connection = self._connection()
        try:
            with connection.cursor() as cursor:
                cursor.execute(statement, params)
                return cursor.fetchall() if cursor.description is not None else []
        except psycopg.OperationalError:
            self._drop(connection)  # broken or timed out: the next call opens a new one
            raise

    def close(self) -> None:
        with self._lock:
            connections, self._all = self._all, []
        for connection in connections:
            connection.close()

    def _connection(self) -> psycopg.Connection[Any]:
        connection: psycopg.Connection[Any] | None = getattr(self._local, "connection", None)
        if connection is None or connection.closed:
            connection = self.connect()
            self._local.connection = connection
            with self._lock:
                self._all.append(connection)
        return connection

    def _drop(self, connection: psycopg.Connection[Any]) -> None:
        self._local.connection = None
        with self._lock:
            if connection in self._all:
                self._all.remove(connection)
        try:
            connection.close()
        except psycopg.Error:
            pass
