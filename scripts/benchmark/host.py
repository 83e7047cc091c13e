"""The host of a benchmark room (or one probe player), played from the coordinator's own loop."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

import aiohttp
import bench_clients as bc

from benchmark.errors import BenchError, PhaseTimeout


class Host:
    """A host (or a single probe player) played from the coordinator's own loop."""

    def __init__(self, session: aiohttp.ClientSession, name: str = "Host", code: str | None = None):
        self.session = session
        self.player = bc.Player(bc.Tally(), -1, code, name)
        self.inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.player.inbox = self.inbox
        self.task: asyncio.Task[None] | None = None
        self.errors: list[dict[str, Any]] = []

    async def connect(self, url: str, token: str | None = None) -> None:
        self.task = asyncio.ensure_future(self.player.run(self.session, url, token=token))
        await self.expect("welcome")

    async def expect(self, kind: str, timeout: float = 30.0) -> dict[str, Any]:
        """The next message of this type; errors on the way are kept, a close is fatal."""
        end = time.monotonic() + timeout
        while True:
            remaining = end - time.monotonic()
            if remaining <= 0:
                raise PhaseTimeout(f"{self.player.name}: no {kind} within {timeout:.0f}s")
            try:
                message = await asyncio.wait_for(self.inbox.get(), remaining)
            except TimeoutError:
                continue
            if message["type"] == kind:
                return message
            if message["type"] == "error":
                self.errors.append(message)
                if kind in ("room_created", "state"):
                    raise BenchError(f"{self.player.name}: {message}")
            if message["type"] == "_closed":
                raise BenchError(f"{self.player.name}: socket closed ({message['code']}) waiting for {kind}")

    def drain(self) -> None:
        """Keep the errors queued so far; drop the rest."""
        while not self.inbox.empty():
            message = self.inbox.get_nowait()
            if message["type"] == "error":
                self.errors.append(message)

    async def create_room(self, quiz_id: str) -> tuple[str, str]:
        await self.player.send({"type": "create_room", "quiz_id": quiz_id, "name": self.player.name})
        created = await self.expect("room_created")
        await self.expect("state")
        return created["code"], created["room_id"]

    async def send(self, message: dict[str, Any]) -> float:
        """Send; returns the monotonic time just before the send."""
        self.drain()
        sent = time.monotonic()
        await self.player.send(message)
        return sent

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.player.close(), bc.CLOSE_TIMEOUT_S)
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(BaseException):
                await self.task
