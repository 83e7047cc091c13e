"""The listening site: aiohttp's ``TCPSite``, with the ``AcceptGuard`` as the
protocol factory, so every connection is counted and timed from accept.

Connections the event loop has not accepted yet wait in the kernel's queue of
``LISTEN_BACKLOG``; once it is full, new ones are dropped unanswered (the
client's connect waits a second and tries again). asyncio's default queue of
100 was full whenever a room of 1,000 joined at once (its reconnect after a
failover, say): HAProxy's health-check connects timed out behind it, twice,
and HAProxy marked the busy node down and cut every socket on it
(docs/benchmark.md, "Cluster"). The kernel caps the queue at
``net.core.somaxconn`` (4,096 by default since Linux 5.4).
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from quiz_actors.server.accept_guard import AcceptGuard
from quiz_actors.server.keys import ACCEPTED, SYSTEM

LISTEN_BACKLOG = 4096  # connections accepted by the kernel, waiting for the event loop


class GuardedSite(web.BaseSite):
    def __init__(self, runner: web.AppRunner, host: str, port: int) -> None:
        super().__init__(runner)
        self.host = host
        self.port = port
        self.app = runner.app

    @property
    def name(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def start(self) -> None:
        await super().start()
        server = self._runner.server
        assert server is not None
        settings = self.app[SYSTEM].settings
        guard = AcceptGuard(
            server,
            self.app[ACCEPTED],
            settings.header_timeout_s,
            unlimited=settings.networks("trusted_proxies"),
        )
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            guard, self.host, self.port, reuse_address=True, backlog=LISTEN_BACKLOG
        )
