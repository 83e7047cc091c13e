"""/readyz and /healthz ask the store through one quick ping, shared (store_ping.py): while
PostgreSQL is unreachable every check answers 503 within HAProxy's check timeout (1 s,
contrib/haproxy.cfg), however many arrive at once, and once it is back the checks say so."""

from __future__ import annotations

import asyncio
import time

import pytest

from eventstore.postgres import PING_TIMEOUT_S
from quiz_actors.server.store_ping import SharedStorePing
from quiz_actors.settings import Settings
from tests.cluster_nodes import PostgresForwarder
from tests.conftest import RunningServer
from tests.silent_network import SilentAddress

HAPROXY_TIMEOUT_CHECK_S = 1.0  # contrib/haproxy.cfg: a check answered later counts as failed


async def check(http, url: str) -> tuple[int, float]:
    started = time.monotonic()
    async with http.get(url) as response:
        return response.status, time.monotonic() - started


@pytest.mark.postgres
async def test_health_checks_answer_within_the_check_timeout_while_postgresql_is_away(schema, clock, http):
    store, _ = schema
    forwarder = await PostgresForwarder().start()
    through = forwarder.url(store)
    server = await RunningServer(Settings(store=through, hello_timeout_s=10), clock).start()
    paths = ("/readyz", "/healthz") * 10  # HAProxy's checks, an orchestrator's, a client's: at once
    try:
        assert [s for s, _ in await asyncio.gather(*(check(http, server.base_url + p) for p in paths))] == [
            200
        ] * len(paths)

        await forwarder.cut()
        for _ in range(3):  # the first checks after the cut, and the ones after those
            answers = await asyncio.gather(*(check(http, server.base_url + p) for p in paths))
            assert {status for status, _ in answers} == {503}, answers
            slowest = max(took for _, took in answers)
            assert slowest < HAPROXY_TIMEOUT_CHECK_S, answers  # not after the store's 3 s retry

        await forwarder.start()
        end = time.monotonic() + 10
        while (status := (await check(http, server.base_url + "/readyz"))[0]) != 200:
            assert time.monotonic() < end, status
            await asyncio.sleep(0.1)
        answers = await asyncio.gather(*(check(http, server.base_url + p) for p in paths))
        assert {status for status, _ in answers} == {200}, answers
    finally:
        await server.stop()
        await forwarder.cut()


@pytest.mark.postgres
async def test_health_checks_answer_in_a_second_while_postgresql_is_silent_and_see_it_back_at_once(
    schema, clock, http
):
    """The database goes silent instead of refusing (tests/silent_network.py): a ping
    waits its whole second, so the checks answer 503 after about that long (HAProxy
    counts a check answered later than its timeout as failed too). psycopg's own way
    out of a ping timed out by cancellation (ask the server to cancel, then wait, up to
    5 s each) held one ping for 11 s: every check answered after 5 s meanwhile, and a
    database that came back was reported down for seconds more."""
    silent = SilentAddress()
    silent.check_usable()
    store, _ = schema
    forwarder = await PostgresForwarder(address=silent.address).start()
    server = await RunningServer(Settings(store=forwarder.url(store), hello_timeout_s=10), clock).start()
    paths = ("/readyz", "/healthz") * 10
    try:
        answers = await asyncio.gather(*(check(http, server.base_url + p) for p in paths))
        assert {status for status, _ in answers} == {200}, answers

        silent.silence()
        for _ in range(3):
            answers = await asyncio.gather(*(check(http, server.base_url + p) for p in paths))
            assert {status for status, _ in answers} == {503}, answers
            slowest = max(took for _, took in answers)
            print(f"silent database: checks answered 503 within {slowest:.2f} s")
            assert slowest < PING_TIMEOUT_S + 0.5, answers

        silent.restore()
        restored_at = time.monotonic()
        while (status := (await check(http, server.base_url + "/readyz"))[0]) != 200:
            assert time.monotonic() < restored_at + 10, status
            await asyncio.sleep(0.05)
        back_in = time.monotonic() - restored_at
        print(f"silent database: /readyz said 200 again {back_in:.2f} s after it answered")
        assert back_in < PING_TIMEOUT_S + 0.5
    finally:
        silent.restore()
        await forwarder.cut()
        await server.stop()


class CountingStore:
    """A store whose ping takes a moment and counts how often it was asked."""

    def __init__(self, answers: bool = True):
        self.answers = answers
        self.pings = 0
        self.release = asyncio.Event()

    async def ping_once(self) -> None:
        self.pings += 1
        await self.release.wait()
        if not self.answers:
            raise OSError("connection refused")


@pytest.mark.parametrize("answers", [True, False])
async def test_checks_that_arrive_together_share_one_ping(answers):
    store = CountingStore(answers)
    shared = SharedStorePing()
    checks = [asyncio.create_task(shared.store_answers(store)) for _ in range(20)]
    await asyncio.sleep(0.05)
    store.release.set()
    assert await asyncio.gather(*checks) == [answers] * 20
    assert store.pings == 1
    assert await shared.store_answers(store) is answers  # a check after that one: a new ping
    assert store.pings == 2
