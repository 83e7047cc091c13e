"""One socket's outbound side: a bounded queue and the single task that writes it.

Its connection actor calls ``send``/``close``: in the server it runs on the
event loop and the call goes straight in; from any other thread the work is
handed to the loop (``LoopPost``). On the loop, a batch for a socket with nothing
queued and room in its transport's buffer is written at once: its frame bytes
are built once per ``Batch`` and shared by every socket a broadcast goes to, so
a broadcast costs one ``transport.write`` per socket and no task switch
(aiohttp's ``send_frame`` would need a task from an actor's turn, which
docs/benchmark.md, "Frames", measured at 1.2-2x the CPU). When a socket falls
behind, batches queue up and the writer task drains whatever is queued into
one frame (a JSON array when there is more than one message, as the protocol
allows), waiting for the peer to read as aiohttp's ``send_str`` does.

A client that does not read must not make the server hold its messages
forever: past ``max_queued`` messages or ``max_bytes`` queued, or when one send
stalls longer than ``send_timeout_s`` (``check_stalled``), the socket is closed with 4008 ("slow")
and what was queued for it is dropped. Its member then goes offline like any
other disconnect, and nobody else waits for it.
"""

from __future__ import annotations

import asyncio
import logging
import struct
from collections import deque
from collections.abc import Callable

from aiohttp import web

from quiz_actors import logs, metrics, protocol
from quiz_actors.metrics import count_sent
from quiz_actors.protocol import Batch
from quiz_actors.server.loop_post import LoopPost

log = logging.getLogger(__name__)

MAX_MESSAGES_PER_FRAME = 256
DEQUE_BLOCK = 64  # items per block of CPython's deque
CLOSE_HANDSHAKE_TIMEOUT_S = 2.0


def websocket_text_frame(payload: bytes) -> bytes:
    """RFC 6455 section 5.2: one final, unmasked text frame (a server never masks,
    and compression is off on our sockets)."""
    size = len(payload)
    if size < 126:
        header = struct.pack("!BB", 0x81, size)
    elif size < 65536:
        header = struct.pack("!BBH", 0x81, 126, size)
    else:
        header = struct.pack("!BBQ", 0x81, 127, size)
    return header + payload


class SocketSession:
    def __init__(
        self,
        ws: web.WebSocketResponse,
        loop: asyncio.AbstractEventLoop,
        peer: str,
        *,
        max_queued: int,
        max_bytes: int,
        send_timeout_s: float,
        transport: asyncio.Transport | None = None,
        post: LoopPost | None = None,
    ):
        self.ws = ws
        self.transport = transport
        self.loop = loop
        self.post = post or LoopPost(loop)
        self.peer = peer
        self.max_queued = max_queued
        self.max_bytes = max_bytes
        self.send_timeout_s = send_timeout_s
        self.user_id: str | None = None
        self.is_host = False
        self._queue: deque[str] = deque()
        self._queued_bytes = 0
        self._close_request: tuple[int, str] | None = None
        # The code the server closed the socket with, if it did: the log says it, not
        # the client's answering close (aiohttp's close_code ends up as the latter).
        self.closed_by_server_with: int | None = None
        self._wake = asyncio.Event()
        self.sending_since: float | None = None  # loop time a send started, while it waits

    @property
    def is_authenticated(self) -> bool:
        return self.user_id is not None

    # ---- called from any thread

    def send(self, batch: Batch) -> None:
        # Every message a socket gets comes this way: spelled out rather than through
        # ``_call``, as a broadcast runs it once per member.
        if self.post.on_loop_thread():
            self.enqueue(batch)
        else:
            self.post.call(self.enqueue, batch)

    def close(self, code: int, reason: str) -> None:
        self._call(self.request_close, code, reason)

    def authenticated(self, user_id: str) -> None:
        self._call(setattr, self, "user_id", user_id)

    def set_host(self, is_host: bool) -> None:
        self._call(setattr, self, "is_host", is_host)

    def _call(self, fn: Callable[..., object], *args: object) -> None:
        # Connection actors run on the loop (LoopDispatcher): they call straight in.
        # Only they call these methods, so nothing posted earlier can be overtaken.
        if self.post.on_loop_thread():
            fn(*args)
        else:
            self.post.call(fn, *args)

    # ---- on the event loop

    def enqueue(self, batch: Batch) -> None:
        if self._close_request is not None:
            return
        count_sent(batch.type_counts())
        if not self._queue and self.sending_since is None and self._write_at_once(batch):
            return
        for text in batch.texts:
            self._queue.append(text)
            self._queued_bytes += len(text)
        if len(self._queue) > self.max_queued or self._queued_bytes > self.max_bytes:
            self._too_slow(f"{len(self._queue)} messages / {self._queued_bytes} bytes queued")
        self._wake.set()

    def _write_at_once(self, batch: Batch) -> bool:
        """Write ``batch`` now if the socket is keeping up; False means queue it.

        Only when nothing is queued or being sent (so order holds), the socket is
        open, and the transport's buffer is below its high-water mark (so a peer
        that stops reading soon sends us down the queued path, where the slow
        consumer limits apply).
        """
        transport = self.transport
        if (
            transport is None
            or len(batch.texts) > MAX_MESSAGES_PER_FRAME
            or self.ws.closed
            or transport.is_closing()
            or transport.get_write_buffer_size() >= transport.get_write_buffer_limits()[1]
        ):
            return False
        wire = batch.wire
        if wire is None:
            wire = batch.wire = websocket_text_frame(batch.payload())
        transport.write(wire)
        return True

    def request_close(self, code: int, reason: str) -> None:
        if self._close_request is None:
            self._close_request = (code, reason)
            self.closed_by_server_with = code  # even if the close frame never gets out
        self._wake.set()

    def close_if_not_authenticated(self) -> None:
        if not self.is_authenticated:
            log.info(
                "closing socket from %s: no hello in time", self.peer, extra=logs.fields(address=self.peer)
            )
            self.request_close(protocol.CLOSE_POLICY, "hello expected")

    def _too_slow(self, why: str) -> None:
        log.info(
            "closing slow socket from %s (user %s): %s",
            self.peer,
            self.user_id,
            why,
            extra=logs.fields(address=self.peer, user_id=self.user_id),
        )
        if self._close_request is None:
            metrics.SOCKETS_CLOSED.labels("slow_consumer").inc()
        self._queue.clear()
        self._queued_bytes = 0
        self.request_close(protocol.CLOSE_SLOW, "slow")

    def check_stalled(self, now: float) -> None:
        """Close the socket if its current send has waited past the send timeout."""
        if self.sending_since is not None and now - self.sending_since > self.send_timeout_s:
            self._too_slow(f"a send stalled for {now - self.sending_since:.1f}s")
            self.sending_since = None
            if self.transport is not None:
                self.transport.abort()  # the stuck send fails, and the reader sees the close

    async def run_writer(self) -> None:
        try:
            while True:
                await self._wake.wait()
                self._wake.clear()
                drained = 0
                while self._queue:
                    count = min(len(self._queue), MAX_MESSAGES_PER_FRAME)
                    drained += count
                    batch = [self._queue.popleft() for _ in range(count)]
                    self._queued_bytes -= sum(len(t) for t in batch)
                    text = batch[0] if count == 1 else "[" + ",".join(batch) + "]"
                    # Usually returns at once; it waits only when the peer stops reading.
                    # check_stalled (run every second for all sockets) watches for that,
                    # which is far cheaper than a timeout around every send.
                    self.sending_since = self.loop.time()
                    await self.ws.send_str(text)
                    self.sending_since = None
                if drained > DEQUE_BLOCK:
                    # An emptied deque keeps up to 16 of its 64-item blocks (8.4 KB) for
                    # later: after a backlog (a client that read late in a big lobby),
                    # thousands of sockets would each keep that for good. A new one has none.
                    self._queue = deque()
                if self._close_request is not None:
                    await self._close(*self._close_request)
                    return
        except (ConnectionError, RuntimeError):
            pass  # the peer went away; the reader side reports the close

    async def _close(self, code: int, reason: str) -> None:
        try:
            await asyncio.wait_for(
                self.ws.close(code=code, message=reason.encode()), CLOSE_HANDSHAKE_TIMEOUT_S
            )
        except (TimeoutError, ConnectionError, RuntimeError):
            # A peer that reads nothing never reads our close frame either: drop it.
            if self.transport is not None:
                self.transport.abort()
