"""The socket's outbound side over a real loopback socket: what a client receives.

SocketSession writes a batch straight to the transport when the socket keeps up
(its own RFC 6455 framing, built once per batch) and queues when it does not.
Either way the client must get exactly the messages, in order, as one frame per
batch or as arrays of what was queued.
"""

from __future__ import annotations

import asyncio
import json
from contextlib import asynccontextmanager

import aiohttp
from aiohttp import web

from quiz_actors.protocol import Batch
from quiz_actors.server.session import SocketSession


class OneSocketServer:
    """An aiohttp server whose single /ws socket is driven by a SocketSession."""

    def __init__(self) -> None:
        self.session: SocketSession | None = None
        self.ready = asyncio.Event()
        self.runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/ws", self._handle)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}/ws"

    async def _handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(compress=False)
        await ws.prepare(request)
        self.session = SocketSession(
            ws,
            asyncio.get_running_loop(),
            "test",
            max_queued=100_000,
            max_bytes=100_000_000,
            send_timeout_s=30,
            transport=request.transport,
        )
        writer = asyncio.create_task(self.session.run_writer())
        self.ready.set()
        async for _ in ws:
            pass
        writer.cancel()
        return ws

    async def stop(self) -> None:
        await self.runner.cleanup()


async def _received_messages(ws: aiohttp.ClientWebSocketResponse, count: int) -> list:
    messages: list = []
    while len(messages) < count:
        frame = await asyncio.wait_for(ws.receive(), 10)
        assert frame.type == aiohttp.WSMsgType.TEXT, frame
        data = json.loads(frame.data)
        messages.extend(data if isinstance(data, list) else [data])
    return messages


@asynccontextmanager
async def one_socket():
    """The server's SocketSession and the client's end of its socket."""
    server = OneSocketServer()
    await server.start()
    try:
        async with aiohttp.ClientSession() as http, http.ws_connect(server.url, max_msg_size=0) as ws:
            await server.ready.wait()
            yield server.session, ws
    finally:
        await server.stop()


async def test_every_frame_length_encoding_arrives_intact():
    """Payloads around the 7-bit, 16-bit and 64-bit length boundaries of RFC 6455."""
    async with one_socket() as (session, ws):
        sizes = [0, 1, 100, 125 - 12, 126 - 12, 127 - 12, 65535 - 12, 65536 - 12, 200_000]
        texts = [json.dumps({"n": "x" * size}, separators=(",", ":")) for size in sizes]
        for text in texts:
            session.enqueue(Batch(text))
        session.enqueue(Batch(*texts[:3]))  # several messages: one array frame
        frames = []
        for _ in range(len(texts) + 1):
            frame = await asyncio.wait_for(ws.receive(), 10)
            assert frame.type == aiohttp.WSMsgType.TEXT
            frames.append(frame.data)
        assert frames[:-1] == texts
        assert json.loads(frames[-1]) == [json.loads(t) for t in texts[:3]]


async def test_one_batch_shared_by_many_sockets_is_built_once():
    async with one_socket() as (session, ws):
        batch = Batch('{"type":"a"}', '{"type":"b"}')
        session.enqueue(batch)
        wire = batch.wire
        assert wire is not None
        session.enqueue(batch)
        assert batch.wire is wire
        assert await _received_messages(ws, 4) == [{"type": "a"}, {"type": "b"}] * 2


async def test_a_socket_that_stops_reading_gets_everything_in_order_once_it_reads():
    """Past the transport's buffer the session queues; nothing is lost or reordered."""
    async with one_socket() as (session, ws):
        filler = "y" * 20_000
        for i in range(300):  # ~6 MB: far past what the kernel and the transport take in
            session.enqueue(Batch(json.dumps({"i": i, "pad": filler})))
        assert session._queue, "a peer that does not read must send later batches down the queue"
        messages = await _received_messages(ws, 300)
        assert [m["i"] for m in messages] == list(range(300))
        # Drained, the queue starts afresh (an emptied deque would keep its blocks);
        # a second backlog after it still arrives whole and in order.
        for i in range(300, 600):
            session.enqueue(Batch(json.dumps({"i": i, "pad": filler})))
        messages = await _received_messages(ws, 300)
        assert [m["i"] for m in messages] == list(range(300, 600))
