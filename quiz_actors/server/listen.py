"""The listening site: aiohttp's ``TCPSite``, with the ``AcceptGuard`` as the
protocol factory, so every connection is counted and timed from accept."""

from __future__ import annotations

import asyncio

from aiohttp import web

from quiz_actors.server.accept_guard import AcceptGuard
from quiz_actors.server.keys import ACCEPTED, SYSTEM


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
        self._server = await loop.create_server(guard, self.host, self.port, reuse_address=True)
