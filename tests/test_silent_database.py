"""A database that goes silent (its host died, or the network drops packets instead of
refusing them) fails a statement in seconds, on every kind of connection the server
opens to PostgreSQL, instead of holding the thread that sent it for TCP's ~15 minutes
(eventstore/persistence.py, POSTGRES_TCP_TIMEOUT_S). The database's own timeouts
(statement, lock) cannot end such a wait: they need the database to answer.

Each connection goes through a forwarder on a loopback address of its own, which the
test silences (tests/silent_network.py) once the connection is open. The calls run
on one worker thread of the test's (the cluster's connections are one per thread,
and the forwarder runs on the test's event loop), so that a call that hangs fails
the test instead of hanging it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import psycopg
import pytest
from psycopg import sql

from eventstore import EventStore
from eventstore.persistence import POSTGRES_CONNECT_TIMEOUT_S, POSTGRES_TCP_TIMEOUT_S
from quiz_actors.cluster.database import ClusterDatabase
from tests.cluster_nodes import PostgresForwarder
from tests.conftest import POSTGRES_URL, one_question_room
from tests.silent_network import SilentAddress

pytestmark = [pytest.mark.postgres, pytest.mark.parametrize("store_url", ["postgres"], indirect=True)]

GIVE_UP_AFTER_S = 30  # well past the bound, well short of TCP's own 15 minutes


class Worker:
    """One thread that makes the blocking calls, and a bounded wait for each."""

    def __init__(self) -> None:
        self.executor = ThreadPoolExecutor(max_workers=1)

    async def call(self, call: Callable[[], Any]) -> tuple[BaseException | None, float]:
        """What ``call`` raised (None if nothing) and how long it took."""
        began = time.monotonic()
        future = asyncio.wrap_future(self.executor.submit(call))
        await asyncio.wait({future}, timeout=GIVE_UP_AFTER_S)
        took = time.monotonic() - began
        assert future.done(), f"still waiting for the database after {took:.0f} s"
        return future.exception(), took


async def running_on_the_server(statement: str) -> None:
    """Until PostgreSQL runs ``statement`` (asked straight, not through the forwarder)."""
    end = time.monotonic() + 10
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        while not conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND query = %s", (statement,)
        ).fetchone()[0]:
            assert time.monotonic() < end, f"{statement} never ran"
            await asyncio.sleep(0.02)  # the forwarder, on this loop, carries it meanwhile


@pytest.fixture
async def silenceable(store_url):
    """The store's URL through a forwarder that the test can silence, and a worker."""
    silent = SilentAddress()
    silent.check_usable()
    forwarder = await PostgresForwarder(address=silent.address).start()
    worker = Worker()
    try:
        yield forwarder.url(store_url), silent, worker
    finally:
        silent.restore()
        await forwarder.cut()  # frees a call still waiting, if one hung
        worker.executor.shutdown(wait=False)


async def test_a_save_to_a_silent_database_fails_in_seconds_and_saves_go_on_once_it_answers(silenceable):
    url, silent, worker = silenceable
    stores: list[EventStore] = []
    first, blocked, later = (one_question_room(code) for code in ("500001", "500002", "500003"))

    def open_and_save() -> None:
        stores.append(EventStore(url))
        stores[0].save(first)  # the pool's connections are open

    try:
        assert (await worker.call(open_and_save))[0] is None
        store = stores[0]
        silent.silence()
        error, took = await worker.call(lambda: store.save(blocked))
        print(f"a save to a silent database failed after {took:.2f} s: {error!r}")
        assert error is not None and "timed out" in str(error), error
        assert took < POSTGRES_TCP_TIMEOUT_S + 3
        silent.restore()

        def save_and_read() -> None:
            store.save(later)
            assert store.load(later.id).code == "500003"
            assert store.load(blocked.id) is None  # nothing of the failed save reached it

        assert (await worker.call(save_and_read))[0] is None
    finally:
        silent.restore()  # first: a call still waiting on the silence ends, and the close can go on
        for store in stores:
            await worker.call(store.close)


async def test_a_cluster_statement_to_a_silent_database_fails_in_seconds(silenceable):
    """The lease keeper's renewals, the hub's directory and the lockout run on these."""
    url, silent, worker = silenceable
    database = ClusterDatabase(url)
    rows: list[Any] = []
    try:
        assert (await worker.call(lambda: rows.append(database.execute(sql.SQL("SELECT 1")))))[0] is None
        silent.silence()
        error, took = await worker.call(lambda: database.execute(sql.SQL("SELECT 2")))
        print(f"a cluster statement to a silent database failed after {took:.2f} s: {error!r}")
        assert error is not None and "timed out" in str(error), error
        assert took < POSTGRES_TCP_TIMEOUT_S + 3
        silent.restore()
        # A statement under way when the database falls silent: its answer never comes.
        pending = asyncio.ensure_future(
            worker.call(lambda: database.execute(sql.SQL("SELECT pg_sleep(1.5)")))
        )
        await running_on_the_server("SELECT pg_sleep(1.5)")
        silent.silence()
        error, took = await pending
        print(f"a statement under way when the database fell silent failed after {took:.2f} s: {error!r}")
        assert error is not None and "timed out" in str(error), error
        assert took < POSTGRES_TCP_TIMEOUT_S + 3
        # A new connection into the silence gives up after the connect timeout.
        error, took = await worker.call(lambda: database.execute(sql.SQL("SELECT 3")))
        print(f"a new cluster connection to a silent database failed after {took:.2f} s: {error!r}")
        assert error is not None and "timeout" in str(error), error
        assert took < POSTGRES_CONNECT_TIMEOUT_S + 1
        silent.restore()
        assert (await worker.call(lambda: rows.append(database.execute(sql.SQL("SELECT 4")))))[0] is None
        assert rows == [[(1,)], [(4,)]]
    finally:
        silent.restore()
        await worker.call(database.close)


async def test_closing_the_health_ping_while_it_waits_on_a_silent_database_ends_it_at_once(silenceable):
    """The server's shutdown closes the health checks' connection (``close_ping``) whatever
    a ping is doing: a ping still waiting on the silence ends then with a lost
    connection, instead of holding the shutdown for the rest of its second."""
    url, silent, worker = silenceable
    stores: list[EventStore] = []
    try:
        assert (await worker.call(lambda: stores.append(EventStore(url))))[0] is None
        store = stores[0]
        await store.ping_once()  # its connection is open
        silent.silence()
        began = time.monotonic()
        waiting = asyncio.ensure_future(store.ping_once())
        await asyncio.sleep(0.2)
        assert not waiting.done()
        await store.close_ping()
        closed_after = time.monotonic() - began
        with pytest.raises(psycopg.OperationalError):
            await waiting
        ended_after = time.monotonic() - began
        print(f"closing a waiting ping: closed after {closed_after:.2f} s, ended after {ended_after:.2f} s")
        assert ended_after < 0.5  # not the ping's own second
        silent.restore()
        await store.ping_once()  # the next check opens a connection of its own
    finally:
        silent.restore()
        for store in stores:
            await worker.call(store.close)
