"""Listening for connections through the ``AcceptGuard``, and running until a signal.

``GuardedSite`` is aiohttp's ``TCPSite`` with the guard as the protocol
factory; ``run`` does what ``web.run_app`` does for us (serve until SIGINT or
SIGTERM, then shut down gracefully) on that site.
"""

from __future__ import annotations

import asyncio
import signal

from aiohttp import web

from quiz_actors.server.accept_guard import AcceptGuard
from quiz_actors.server.keys import CONNECTIONS, SYSTEM


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
        guard = AcceptGuard(server, self.app[CONNECTIONS], self.app[SYSTEM].settings.header_timeout_s)
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(guard, self.host, self.port, reuse_address=True)


async def serve(app: web.Application, host: str, port: int, shutdown_timeout: float) -> None:
    """Serve ``app`` until SIGINT or SIGTERM, then stop it as ``web.run_app`` would."""
    runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=shutdown_timeout, keepalive_timeout=75)
    await runner.setup()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await GuardedSite(runner, host, port).start()
        await stop.wait()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        await runner.cleanup()


def run(app: web.Application, host: str, port: int, shutdown_timeout: float) -> None:
    asyncio.run(serve(app, host, port, shutdown_timeout))
