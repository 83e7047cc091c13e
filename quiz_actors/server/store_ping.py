"""The store's health as ``/readyz`` and ``/healthz`` report it: one quick ping, shared.

HAProxy checks every node a few times a second, and an orchestrator or a client may
ask too. Each check used to read the store through its retry (a lost connection
tried again for 3 s) on the default executor: while the database was away the
checks piled up there, and once it was back a node was reported healthy only after
they had drained. Here one ping runs at a time per process: one attempt, given up
after a second, on a connection of its own (``EventStore.ping_once``; on PostgreSQL
it runs on the event loop, no thread); a check that arrives meanwhile awaits that
ping's answer.
"""

from __future__ import annotations

import asyncio
import logging

from eventstore import EventStore

log = logging.getLogger(__name__)

# A check waits this long for the ping's answer: the ping gives up by itself sooner
# (PING_TIMEOUT_S, 1 s), so this only bounds the unforeseen (a SQLite file stuck).
PING_WAIT_S = 5


class SharedStorePing:
    def __init__(self) -> None:
        self._in_flight: asyncio.Future[bool] | None = None

    async def store_answers(self, store: EventStore) -> bool:
        """Whether the store answers now: the ping under way, or a new one if none is."""
        ping = self._in_flight
        if ping is None:
            ping = self._in_flight = asyncio.ensure_future(self._ping(store))
            ping.add_done_callback(self._done)
        try:
            return await asyncio.wait_for(asyncio.shield(ping), timeout=PING_WAIT_S)
        except TimeoutError:
            return False

    async def _ping(self, store: EventStore) -> bool:
        try:
            await store.ping_once()
        except Exception as e:
            log.debug("store ping failed: %r", e)
            return False
        return True

    def _done(self, ping: asyncio.Future[bool]) -> None:
        if self._in_flight is ping:
            self._in_flight = None
