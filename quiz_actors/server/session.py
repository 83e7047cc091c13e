"""One socket's outbound side: a bounded queue and the single task that writes it.

Actors call ``send``/``close`` from their threads; those only hand the work to
the event loop (``call_soon_threadsafe``). The writer task drains whatever is
queued into one frame (a JSON array when there is more than one message, as the
protocol allows), so a burst of room changes costs one socket write. A client
that does not read lets the queue grow: past its bound the socket is closed
(4008) rather than letting memory grow.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque

from aiohttp import web

from quiz_actors import protocol

log = logging.getLogger(__name__)

MAX_MESSAGES_PER_FRAME = 256


class SocketSession:
    def __init__(self, ws: web.WebSocketResponse, loop: asyncio.AbstractEventLoop, peer: str, max_queued: int):
        self.ws = ws
        self.loop = loop
        self.peer = peer
        self.max_queued = max_queued
        self.is_authenticated = False
        self._queue: deque[str] = deque()
        self._close_request: tuple[int, str] | None = None
        self._wake = asyncio.Event()

    # ---- called from any thread

    def send(self, frames) -> None:  # type: ignore[no-untyped-def]
        self._call(self.enqueue, frames)

    def close(self, code: int, reason: str) -> None:
        self._call(self.request_close, code, reason)

    def authenticated(self) -> None:
        self._call(setattr, self, "is_authenticated", True)

    def _call(self, fn, *args) -> None:  # type: ignore[no-untyped-def]
        try:
            self.loop.call_soon_threadsafe(fn, *args)
        except RuntimeError:
            pass  # the loop has closed: the server is shutting down

    # ---- on the event loop

    def enqueue(self, frames) -> None:  # type: ignore[no-untyped-def]
        if self._close_request is not None:
            return
        self._queue.extend(frames)
        if len(self._queue) > self.max_queued:
            log.info("closing slow socket from %s: %s messages queued", self.peer, len(self._queue))
            self._queue.clear()
            self.request_close(protocol.CLOSE_SLOW, "slow")
        self._wake.set()

    def request_close(self, code: int, reason: str) -> None:
        if self._close_request is None:
            self._close_request = (code, reason)
        self._wake.set()

    def close_if_not_authenticated(self) -> None:
        if not self.is_authenticated:
            self.request_close(protocol.CLOSE_POLICY, "hello expected")

    async def run_writer(self) -> None:
        try:
            while True:
                await self._wake.wait()
                self._wake.clear()
                while self._queue:
                    batch = [self._queue.popleft() for _ in range(min(len(self._queue), MAX_MESSAGES_PER_FRAME))]
                    text = batch[0] if len(batch) == 1 else "[" + ",".join(batch) + "]"
                    await self.ws.send_str(text)
                if self._close_request is not None:
                    code, reason = self._close_request
                    await self.ws.close(code=code, message=reason.encode())
                    return
        except (ConnectionError, RuntimeError):
            pass  # the peer went away; the reader side reports the close
