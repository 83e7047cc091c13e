#!/usr/bin/env python3
"""The floor for scripts/bench.py: a minimal raw aiohttp WebSocket broadcaster.

    python scripts/baseline_server.py --port 8090

No actors, no store, no per-socket queue: it accepts sockets at ``/ws``,
answers ``hello`` with a ``welcome`` (so the benchmark's players connect to it
exactly as to the real server), and when any socket sends ``{"type":"next"}``
it writes one ``question_shown`` frame to every socket in one loop on the event
loop, in one of two ways (``"how"`` in the ``next``):

* ``send_str``: ``await ws.send_str(text)`` per socket, the text serialized once:
  what a plain aiohttp broadcaster does;
* ``prebuilt``: the whole WebSocket frame (header and payload) built once and
  ``transport.write`` per socket: the least a server can do, and what the quiz
  server itself does for a broadcast (``quiz_actors/server/session.py``).

The time from that ``next`` to the last client's receipt is what the benchmark
divides our own broadcast time by. It runs on the event loop the quiz server runs
on (``--event-loop``, uvloop by default, as the server's own option), so the two
are compared on the same loop.

Kept in scripts/, never in the product.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import sys
import time
import uuid
from pathlib import Path

from aiohttp import WSCloseCode, web

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # runs from a checkout, installed or not

from quiz_actors.server.session import websocket_text_frame  # noqa: E402
from quiz_actors.settings import EVENT_LOOPS  # noqa: E402

SOCKETS = web.AppKey("sockets", set)
SENT = web.AppKey("broadcasts", list)
TRANSPORTS = web.AppKey("transports", dict)
QUESTION_TEXT = "Benchmark question {index}: which of these four answers is the right one?"
CHOICES = ["First answer", "Second answer", "Third answer", "Fourth answer"]


def question_text(index: int, count: int) -> str:
    """The same shape and size as the real server's ``question_shown``."""
    now = int(time.time() * 1000)
    message = {
        "type": "question_shown",
        "seq": index + 1,
        "index": index,
        "count": count,
        "text": QUESTION_TEXT.format(index=index),
        "choices": CHOICES,
        "time_limit_ms": 240_000,
        "deadline_ms": now + 240_000,
    }
    return json.dumps(message, separators=(",", ":"))


async def broadcast(app: web.Application, how: str) -> None:
    index = len(app[SENT])
    text = question_text(index, 100)  # serialized once for every socket
    started = time.perf_counter()
    if how == "prebuilt":
        frame = websocket_text_frame(text.encode())
        for ws in list(app[SOCKETS]):
            transport = app[TRANSPORTS].get(ws)
            if transport is not None and not transport.is_closing():
                transport.write(frame)
    else:
        for ws in list(app[SOCKETS]):
            if not ws.closed:
                try:
                    await ws.send_str(text)
                except (ConnectionError, RuntimeError):
                    pass  # a socket that went away is not our concern here
    # ended_at: time.monotonic, the clock every process of the benchmark shares.
    app[SENT].append({"how": how, "loop_s": time.perf_counter() - started, "ended_at": time.monotonic()})


async def websocket(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse(compress=False, autoping=True)
    await ws.prepare(request)
    request.app[SOCKETS].add(ws)
    request.app[TRANSPORTS][ws] = request.transport
    try:
        async for frame in ws:
            if frame.type != web.WSMsgType.TEXT:
                continue
            message = json.loads(frame.data)
            kind = message.get("type")
            if kind == "hello":
                await ws.send_str(
                    json.dumps(
                        {
                            "type": "welcome",
                            "user_id": str(uuid.uuid4()),
                            "token": "baseline",
                            "heartbeat_ms": 30_000,
                        }
                    )
                )
            elif kind == "next":
                await broadcast(request.app, message.get("how", "send_str"))
    finally:
        request.app[SOCKETS].discard(ws)
        request.app[TRANSPORTS].pop(ws, None)
    return ws


async def health(request: web.Request) -> web.Response:
    return web.json_response(
        {"status": "ok", "sockets": len(request.app[SOCKETS]), "broadcast_loop_s": request.app[SENT]}
    )


async def close_sockets(app: web.Application) -> None:
    """On SIGTERM: close every socket, or the handlers (and the process) would wait for the clients."""
    for ws in list(app[SOCKETS]):
        await ws.close(code=WSCloseCode.GOING_AWAY, message=b"Server shutdown")


def create_app() -> web.Application:
    app = web.Application()
    app[SOCKETS] = set()
    app[SENT] = []
    app[TRANSPORTS] = {}
    app.on_shutdown.append(close_sockets)
    app.router.add_get("/ws", websocket)
    app.router.add_get("/healthz", health)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8090)
    parser.add_argument("--event-loop", choices=EVENT_LOOPS, default="uvloop")
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # thousands of sockets
    if args.event_loop == "uvloop":
        import uvloop

        loop = uvloop.new_event_loop()
    else:
        loop = asyncio.new_event_loop()
    web.run_app(
        create_app(), host=args.host, port=args.port, print=None, backlog=4096, shutdown_timeout=5, loop=loop
    )


if __name__ == "__main__":
    main()
