"""A database that goes silent (its host died, or the network drops packets instead of
refusing them) fails a statement in seconds, on every kind of connection the server
opens to PostgreSQL, instead of holding the thread that sent it for TCP's ~15 minutes
(eventstore/persistence.py, POSTGRES_TCP_TIMEOUT_S). The database's own timeouts
(statement, lock) cannot end such a wait: they need the database to answer.

Each connection goes through a forwarder on a loopback address of its own, which the
test silences (tests/silent_network.py) once the connection is open. The calls run
on one worker thread of the test's (the cluster's connections are one per thread),
so that a call that hangs fails the test instead of hanging it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from psycopg import sql

from eventstore import EventStore
from eventstore.persistence import POSTGRES_TCP_TIMEOUT_S
from quiz_actors.cluster.database import ClusterDatabase
from tests.cluster_nodes import PostgresForwarder
from tests.conftest import one_question_room
from tests.silent_network import SilentAddress

pytestmark = pytest.mark.postgres

GIVE_UP_AFTER_S = 30  # well past the bound, well short of TCP's own 15 minutes


class Worker:
    """One thread that makes the blocking calls, and a bounded wait for each."""

    def __init__(self) -> None:
        self.executor = ThreadPoolExecutor(max_workers=1)

    async def call(self, call: Callable[[], Any]) -> tuple[BaseException | None, float]:
        """What ``call`` raised (None if nothing) and how long it took."""
        began = time.monotonic()
        future = self.executor.submit(call)
        while not future.done() and time.monotonic() - began < GIVE_UP_AFTER_S:
            await asyncio.sleep(0.05)
        took = time.monotonic() - began
        assert future.done(), f"still waiting for the database after {took:.0f} s"
        return future.exception(), took

    def close(self) -> None:
        self.executor.shutdown(wait=False)


@pytest.mark.parametrize("store_url", ["postgres"], indirect=True)
async def test_a_save_to_a_silent_database_fails_in_seconds_and_saves_go_on_once_it_answers(store_url):
    silent = SilentAddress()
    silent.check_usable()
    forwarder = await PostgresForwarder(address=silent.address).start()
    worker = Worker()
    stores: list[EventStore] = []
    try:
        first, blocked, later = (one_question_room(code) for code in ("500001", "500002", "500003"))

        def open_and_save() -> None:
            stores.append(EventStore(forwarder.url(store_url)))
            stores[0].save(first)  # the pool's connections are open

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
        silent.restore()
        worker.close()
        for store in stores:
            store.close()
        await forwarder.cut()


@pytest.mark.parametrize("store_url", ["postgres"], indirect=True)
async def test_a_cluster_statement_to_a_silent_database_fails_in_seconds(store_url):
    """The lease keeper's renewals, the hub's directory and the lockout run on these."""
    silent = SilentAddress()
    silent.check_usable()
    forwarder = await PostgresForwarder(address=silent.address).start()
    database = ClusterDatabase(forwarder.url(store_url))
    worker = Worker()
    rows: list[Any] = []
    try:
        assert (await worker.call(lambda: rows.append(database.execute(sql.SQL("SELECT 1")))))[0] is None
        silent.silence()
        error, took = await worker.call(lambda: database.execute(sql.SQL("SELECT 2")))
        print(f"a cluster statement to a silent database failed after {took:.2f} s: {error!r}")
        assert error is not None and "timed out" in str(error), error
        assert took < POSTGRES_TCP_TIMEOUT_S + 3
        silent.restore()
        # The timed-out connection was dropped; the next statement opens another.
        assert (await worker.call(lambda: rows.append(database.execute(sql.SQL("SELECT 3")))))[0] is None
        assert rows == [[(1,)], [(3,)]]
    finally:
        silent.restore()
        worker.close()
        database.close()
        await forwarder.cut()
