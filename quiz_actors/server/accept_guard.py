"""Connections counted from the moment they are accepted, and slow headers dropped.

aiohttp counts nothing until a request's headers are complete, and keeps a
connection that never completes them until its keep-alive timeout (75 s). So
an address could open hundreds of half-open connections ("slowloris"), none
of them counted against the per-address limit, until the server ran out of
open files and stopped accepting anyone.

``AcceptGuard`` sits in front of aiohttp's protocol factory. Each accepted
connection is counted at once (``ConnectionCounter``: per address and in
total); one over a limit is closed right there, before it costs more than its
file descriptor for an instant. A trusted reverse proxy's address (``--trusted-proxies``)
carries everyone's connections, so only the total applies to it; the
WebSocket limit per client address (``bridge.py``) still applies behind it.
Each admitted one must complete a request's
headers within ``header_timeout_s``, and again after each response (an idle
keep-alive connection is a half-open one by another name), or it is dropped.
Once a request's headers are in, the timer stops until the response is done:
a WebSocket lives as long as its socket does. An idle keep-alive connection
that served its requests and sent nothing since is closed quietly (a reverse
proxy keeps one open to reuse after every request: it is no attack, and an
INFO line about each was noise an operator took for the guard firing). What
arrived is all it goes by: a request pipelined in the same packet as the one
before it, whose headers never complete, is logged as idle too (and dropped
all the same).
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from collections.abc import Awaitable, Callable
from typing import cast

from aiohttp import web

from quiz_actors.server.limits import ConnectionCounter

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class AcceptGuard:
    """A protocol factory for ``loop.create_server`` wrapping aiohttp's ``web.Server``."""

    def __init__(
        self,
        server: web.Server,
        counter: ConnectionCounter,
        header_timeout_s: float,
        unlimited: list[ipaddress.IPv4Network | ipaddress.IPv6Network] | None = None,
    ) -> None:
        self.server = server
        self.counter = counter
        self.header_timeout_s = header_timeout_s
        self.unlimited = unlimited or []  # addresses only the total applies to: trusted proxies
        self.refused = 0  # connections closed at accept since the start, for the logs

    def __call__(self) -> GuardedConnection:
        return GuardedConnection(self)

    def limited_per_address(self, ip: str) -> bool:
        if not self.unlimited:
            return True
        try:
            address = ipaddress.ip_address(ip)
        except ValueError:
            return True
        return not any(address in network for network in self.unlimited)


class GuardedConnection(asyncio.Protocol):
    """One accepted connection: counted, timed, and otherwise aiohttp's own handler."""

    def __init__(self, guard: AcceptGuard) -> None:
        self.guard = guard
        self.inner: asyncio.Protocol | None = None  # aiohttp's RequestHandler, once admitted
        self.transport: asyncio.Transport | None = None
        self.ip = "?"
        self.deadline: asyncio.TimerHandle | None = None
        self.served = 0  # requests answered on this connection
        self.heard = False  # any bytes since the deadline was armed: a request begun

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # a stream transport: asyncio's, or uvloop's (which is not a subclass of asyncio.Transport)
        self.transport = cast(asyncio.Transport, transport)
        peer = transport.get_extra_info("peername")
        self.ip = str(peer[0]) if peer else "?"
        refusal = self.guard.counter.admit(self.ip, self.guard.limited_per_address(self.ip))
        if refusal is not None:
            self.guard.refused += 1
            # One line per hundred: a flood must not flood the log too.
            if self.guard.refused % 100 == 1:
                log.warning(
                    "refused connection from %s: %s (%s refused so far)", self.ip, refusal, self.guard.refused
                )
            self.transport.abort()
            return
        self.inner = self.guard.server()
        self.inner.connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        self.heard = True
        if self.inner is not None:
            self.inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self.inner.eof_received() if self.inner is not None else None

    def pause_writing(self) -> None:
        if self.inner is not None:
            self.inner.pause_writing()

    def resume_writing(self) -> None:
        if self.inner is not None:
            self.inner.resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.inner is None:
            return  # refused at accept: never counted
        self._disarm()
        self.guard.counter.release(self.ip)
        inner, self.inner = self.inner, None
        inner.connection_lost(exc)

    # ---- the header deadline

    def request_started(self) -> None:
        self._disarm()

    def request_finished(self) -> None:
        self.served += 1
        if self.inner is not None:
            self._arm()

    def _arm(self) -> None:
        self._disarm()
        loop = asyncio.get_running_loop()
        self.heard = False
        self.deadline = loop.call_later(self.guard.header_timeout_s, self._headers_too_late)

    def _disarm(self) -> None:
        if self.deadline is not None:
            self.deadline.cancel()
            self.deadline = None

    def _headers_too_late(self) -> None:
        self.deadline = None
        if self.served and not self.heard:
            log.debug(
                "closed an idle keep-alive connection from %s after %s request(s)", self.ip, self.served
            )
        else:
            log.info(
                "dropped connection from %s: no complete request within %ss",
                self.ip,
                self.guard.header_timeout_s,
            )
        if self.transport is not None:
            self.transport.abort()


@web.middleware
async def header_deadline(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Stop the connection's header deadline while its request is handled."""
    transport = request.transport
    connection = transport.get_protocol() if transport is not None else None
    if not isinstance(connection, GuardedConnection):
        return await handler(request)  # served some other way (a test's plain site)
    connection.request_started()
    try:
        return await handler(request)
    finally:
        connection.request_finished()
