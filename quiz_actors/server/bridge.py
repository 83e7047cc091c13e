"""The socket bridge: ``GET /ws``, one connection actor per WebSocket.

The handler reads frames, checks them with the protocol module and tells the
connection actor; replies come back through the socket's session (a queue and
one writer task). Nothing here waits on an actor: the event loop never blocks.
"""

from __future__ import annotations

import asyncio
import logging

from aiohttp import WSCloseCode, WSMsgType, web

from quiz_actors import protocol
from quiz_actors.actors.messages import ClientMessage, SocketClosed
from quiz_actors.server.keys import SOCKETS, SYSTEM
from quiz_actors.server.session import SocketSession

log = logging.getLogger(__name__)


async def websocket_handler(request: web.Request) -> web.WebSocketResponse:
    system = request.app[SYSTEM]
    settings = system.settings
    ws = web.WebSocketResponse(max_msg_size=protocol.MAX_FRAME_BYTES, compress=False, autoping=True)
    await ws.prepare(request)
    loop = asyncio.get_running_loop()
    peer = request.remote or "?"
    session = SocketSession(ws, loop, peer, settings.outbox_max_messages)
    connection = system.start_connection(session)
    writer = asyncio.create_task(session.run_writer())
    hello_deadline = loop.call_later(settings.hello_timeout_s, session.close_if_not_authenticated)
    request.app[SOCKETS].add(ws)
    log.info("socket opened from %s", peer)
    try:
        async for frame in ws:
            if frame.type == WSMsgType.TEXT:
                _forward(frame.data, session, connection, system.clock.now_ms())
            elif frame.type == WSMsgType.BINARY:
                session.enqueue([protocol.encode(protocol.error("bad_message", "Send text frames only"))])
            elif frame.type == WSMsgType.ERROR:
                break
    finally:
        hello_deadline.cancel()
        connection.tell(SocketClosed())
        request.app[SOCKETS].discard(ws)
        if not ws.closed:
            await ws.close()
        writer.cancel()
        log.info("socket from %s closed (code %s)", peer, ws.close_code)
    return ws


def _forward(text: str, session: SocketSession, connection, received_at: int) -> None:  # type: ignore[no-untyped-def]
    try:
        message = protocol.parse_client_frame(text)
    except protocol.ProtocolError as e:
        session.enqueue([protocol.encode(protocol.error(e.code, e.message, e.ref))])
        return
    connection.tell(ClientMessage(message, received_at))


async def close_all_sockets(app: web.Application) -> None:
    """On shutdown: every socket is told the server is going away."""
    for ws in list(app[SOCKETS]):
        await ws.close(code=WSCloseCode.GOING_AWAY, message=b"Server shutdown")
