#!/usr/bin/env python3
"""One broadcast, written six ways: the server's hand-built shared frames against aiohttp's public API.

    .venv/bin/python scripts/bench_frames.py                      # 2,000 sockets, 7 rounds each
    .venv/bin/python scripts/bench_frames.py --sockets 500 --rounds 3

The server (this process) accepts ``--sockets`` WebSockets on 127.0.0.1 from a
client process (this script with ``--client``), then sends the same message to
every socket, in turns, each way:

  session      what the server does: ``SocketSession.enqueue`` of one shared
               ``Batch``, whose RFC 6455 frame is built once by hand and written
               to each socket's transport (quiz_actors/server/session.py)
  one task     the public API as the session could use it instead: enqueue
               lists (socket, payload) after the same checks, and one task per
               turn of the loop awaits ``ws.send_frame`` for everything listed
  task         ``loop.create_task(ws.send_frame(payload, TEXT))`` per socket: the
               public API from code that cannot await, a task per send
  queued       the session without its direct path: each socket's writer task
               wakes and sends with ``ws.send_str``
  send_frame   ``await ws.send_frame(payload, TEXT)`` per socket in one loop, the
               payload encoded once (the baseline server's way; the session
               cannot do this: each socket's batch comes from its connection
               actor's turn, which cannot await)
  send_str     ``await ws.send_str(text)`` per socket in one loop

for a ~300-byte message (a ``question_shown``) and a ~1.2 KB one (a reveal's
``question_closed``), ``--rounds`` times each, the ways interleaved so the
load of other processes falls on all of them alike. Per broadcast it times
the loop over the sockets on the server, the time until the client process
has read the message on every socket, and the server's CPU time until then. Prints one table; only
loopback is ever connected to, and every wait has a timeout.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import aiohttp
from aiohttp import WSMsgType, web

from quiz_actors.protocol import Batch, encode
from quiz_actors.server.loop_post import LoopPost
from quiz_actors.server.session import SocketSession

TIMEOUT_S = 60.0


def messages() -> dict[str, str]:
    """The two messages broadcast: the shapes and sizes of the real server's."""
    question = {
        "type": "question_shown",
        "seq": 7,
        "index": 3,
        "count": 10,
        "text": "Benchmark question 3: which one of these four answers is the right one, do you think?",
        "choices": ["The first answer", "The second answer", "The third answer", "The fourth answer"],
        "time_limit_ms": 20_000,
        "deadline_ms": 1_790_000_000_000,
    }
    closed = {
        "type": "question_closed",
        "seq": 8,
        "index": 3,
        "reason": "time_up",
        "correct": [2],
        "distribution": [512, 301, 987, 200],
        "you": {"choice": 2, "correct": True, "points": 912, "streak": 3, "score": 3120, "rank": 17},
        "explanation": "Frames are built once per broadcast. " * 26,
    }
    return {"~300 B": encode(question), "~1.2 KB": encode(closed)}


# ---------------------------------------------------------------- server side


@dataclass(frozen=True)
class Sample:
    way: str
    size: str
    loop_s: float  # the server's loop over every socket
    cpu_s: float  # the server process's CPU time until every socket has read the message
    read_s: float  # until the client process has read the message on every socket


@dataclass(frozen=True)
class Socket:
    ws: web.WebSocketResponse
    transport: asyncio.Transport
    session: SocketSession  # the server's
    queued: SocketSession  # the same without a transport: its writer task calls ws.send_str


class Sockets:
    def __init__(self, expected: int) -> None:
        self.expected = expected
        self.open: list[Socket] = []
        self.all_open = asyncio.Event()
        self.done: asyncio.Queue[int] = asyncio.Queue()


SOCKETS = web.AppKey("sockets", Sockets)


def session(ws: web.WebSocketResponse, transport: asyncio.Transport | None) -> SocketSession:
    loop = asyncio.get_running_loop()
    post = LoopPost(loop)
    post.bind()
    return SocketSession(
        ws,
        loop,
        "bench",
        max_queued=1_000_000,
        max_bytes=1 << 40,
        send_timeout_s=TIMEOUT_S,
        transport=transport,
        post=post,
    )


async def websocket(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse(compress=False, autoping=True, max_msg_size=1 << 20)
    await ws.prepare(request)
    assert request.transport is not None
    socket = Socket(ws, request.transport, session(ws, request.transport), session(ws, None))
    writers = [
        asyncio.create_task(socket.session.run_writer()),
        asyncio.create_task(socket.queued.run_writer()),
    ]
    sockets = request.app[SOCKETS]
    sockets.open.append(socket)
    if len(sockets.open) == sockets.expected:
        sockets.all_open.set()
    async for frame in ws:
        if frame.type == WSMsgType.TEXT:
            sockets.done.put_nowait(int(frame.data))  # the client read broadcast N on every socket
    for writer in writers:
        writer.cancel()
    return ws


async def in_session(sockets: Sockets, text: str) -> None:
    batch = Batch(text)  # one per broadcast, shared by every socket, as Outgoing does
    for socket in sockets.open:
        socket.session.enqueue(batch)


class OneTask:
    """Sends listed frames with ``ws.send_frame``, in one task per turn of the loop."""

    def __init__(self) -> None:
        self.listed: list[tuple[web.WebSocketResponse, bytes]] = []
        self.task: asyncio.Task[None] | None = None

    def send(self, socket: Socket, payload: bytes) -> None:
        transport = socket.transport
        high_water = transport.get_write_buffer_limits()[1]
        # the session's checks: open, and the frame cannot take the buffer past its mark
        if socket.ws.closed or transport.is_closing():
            return
        if transport.get_write_buffer_size() + len(payload) > high_water:
            return
        self.listed.append((socket.ws, payload))
        if self.task is None:
            self.task = asyncio.get_running_loop().create_task(self.run())

    async def run(self) -> None:
        while self.listed:
            listed, self.listed = self.listed, []
            for ws, payload in listed:
                await ws.send_frame(payload, WSMsgType.TEXT)
        self.task = None


ONE_TASK = OneTask()


async def one_task(sockets: Sockets, text: str) -> None:
    payload = text.encode()  # once, as Batch.wire is
    for socket in sockets.open:
        ONE_TASK.send(socket, payload)


async def session_queued(sockets: Sockets, text: str) -> None:
    batch = Batch(text)
    for socket in sockets.open:
        socket.queued.enqueue(batch)


async def task_per_socket(sockets: Sockets, text: str) -> None:
    payload = text.encode()
    loop = asyncio.get_running_loop()
    for socket in sockets.open:
        loop.create_task(socket.ws.send_frame(payload, WSMsgType.TEXT))


async def send_frame(sockets: Sockets, text: str) -> None:
    payload = text.encode()
    for socket in sockets.open:
        await socket.ws.send_frame(payload, WSMsgType.TEXT)


async def send_str(sockets: Sockets, text: str) -> None:
    for socket in sockets.open:
        await socket.ws.send_str(text)


SENDERS: dict[str, Callable[[Sockets, str], Awaitable[None]]] = {
    "session": in_session,
    "one task": one_task,
    "task": task_per_socket,
    "queued": session_queued,
    "send_frame": send_frame,
    "send_str": send_str,
}
WAYS = tuple(SENDERS)


async def serve(args: argparse.Namespace) -> list[Sample]:
    app = web.Application()
    sockets = Sockets(args.sockets)
    app[SOCKETS] = sockets
    app.router.add_get("/ws", websocket)
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, backlog=4096)
    await site.start()
    port = runner.addresses[0][1]
    client = subprocess.Popen(
        [sys.executable, __file__, "--client", "--port", str(port), "--sockets", str(args.sockets)]
    )
    results: list[Sample] = []
    try:
        await asyncio.wait_for(sockets.all_open.wait(), TIMEOUT_S)
        number = 0
        for _ in range(args.rounds):
            for size, text in messages().items():
                for way, send in SENDERS.items():
                    number += 1
                    numbered = f'{{"n":{number},{text[1:]}'
                    started, cpu_started = time.perf_counter(), time.process_time()
                    await send(sockets, numbered)
                    loop_s = time.perf_counter() - started
                    while await asyncio.wait_for(sockets.done.get(), TIMEOUT_S) != number:
                        pass
                    read_s, cpu_s = time.perf_counter() - started, time.process_time() - cpu_started
                    results.append(Sample(way, size, loop_s, cpu_s, read_s))
    finally:
        client.terminate()
        client.wait(timeout=TIMEOUT_S)
        await runner.cleanup()
    return results


# ---------------------------------------------------------------- client side


async def read_all(port: int, count: int) -> None:
    """Open ``count`` sockets; when every socket has read broadcast N, say N on the first."""
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as http:
        sockets = [
            await http.ws_connect(f"ws://127.0.0.1:{port}/ws", max_msg_size=1 << 20) for _ in range(count)
        ]
        received: dict[int, int] = {}

        async def read(ws: aiohttp.ClientWebSocketResponse) -> None:
            async for frame in ws:
                number = json.loads(frame.data)["n"]
                received[number] = received.get(number, 0) + 1
                if received[number] == count:
                    await sockets[0].send_str(str(number))

        await asyncio.gather(*(read(ws) for ws in sockets))


# ---------------------------------------------------------------- the table


def ms(seconds: list[float]) -> str:
    values = sorted(s * 1000 for s in seconds)
    return f"{statistics.median(values):6.1f}  ({values[0]:.1f}–{values[-1]:.1f})"


def table(results: list[Sample], sockets: int, rounds: int) -> str:
    header = f"{'message':<9} {'way':<11} {'server loop ms':>22} {'all read ms':>22} {'server CPU ms':>22}"
    lines = [header, "-" * len(header)]
    for size in messages():
        for way in WAYS:
            rows = [r for r in results if r.way == way and r.size == size]
            loop, cpu, read = ([r.loop_s for r in rows], [r.cpu_s for r in rows], [r.read_s for r in rows])
            lines.append(f"{size:<9} {way:<11} {ms(loop):>22} {ms(read):>22} {ms(cpu):>22}")
    lines.append("")
    lines.append(f"{sockets} sockets on 127.0.0.1, {rounds} broadcasts per cell: median (min–max)")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sockets", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--client", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # thousands of sockets
    if args.client:
        asyncio.run(read_all(args.port, args.sockets))
        return
    results = asyncio.run(serve(args))
    print(table(results, args.sockets, args.rounds))


if __name__ == "__main__":
    main()
