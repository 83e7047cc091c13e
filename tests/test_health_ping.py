"""/readyz and /healthz ask the store through one quick ping, shared (store_ping.py): while
PostgreSQL is unreachable every check answers 503 within HAProxy's check timeout (1 s,
contrib/haproxy.cfg), however many arrive at once, and once it is back the checks say so."""

from __future__ import annotations

import asyncio
import time

import pytest

from quiz_actors.server.store_ping import SharedStorePing
from quiz_actors.settings import Settings
from tests.cluster_nodes import PostgresForwarder
from tests.conftest import RunningServer

HAPROXY_TIMEOUT_CHECK_S = 1.0  # contrib/haproxy.cfg: a check answered later counts as failed


async def check(http, url: str) -> tuple[int, float]:
    started = time.monotonic()
    async with http.get(url) as response:
        return response.status, time.monotonic() - started


@pytest.mark.postgres
async def test_health_checks_answer_within_the_check_timeout_while_postgresql_is_away(schema, clock, http):
    store, _ = schema
    forwarder = await PostgresForwarder().start()
    through = store.replace("127.0.0.1:5432", f"127.0.0.1:{forwarder.port}")
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
