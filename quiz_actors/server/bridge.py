"""The socket bridge: ``GET /ws``, one connection actor per WebSocket.

Before the upgrade it checks the Origin and the WebSocket limits per client
address (every connection was also counted when accepted: accept_guard.py);
after it, that every client frame is masked (masking.py). Then it reads
frames, applies the socket's rate limit, checks each frame with the protocol
module and tells the connection actor; replies come back through the socket's
session (a bounded queue and one writer task). Nothing here waits on
an actor: the event loop never blocks.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pykka
from aiohttp import WSMsgType, web

from quiz_actors import logs, metrics, protocol
from quiz_actors.actors.delivery import tell_quietly
from quiz_actors.actors.messages import ClientMessage, SocketClosed
from quiz_actors.protocol import Batch
from quiz_actors.server.keys import CONNECTIONS, DRAIN, LOOP_POST, SESSIONS, SOCKETS, SYSTEM
from quiz_actors.server.limits import AbuseMeter, TokenBucket
from quiz_actors.server.masking import require_masked_frames
from quiz_actors.server.session import SocketSession
from quiz_actors.settings import Settings
from quiz_actors.system import QuizSystem

log = logging.getLogger(__name__)

NODE_HEADER = "X-Quiz-Node"


def origin_allowed(request: web.Request, settings: Settings) -> bool:
    """Exact matches only: the server's own origin, the configured ones, or no Origin at all."""
    origin = request.headers.get("Origin")
    if origin is None:
        return True  # not a browser: bots, load tools, native apps
    own = f"{request.scheme}://{request.host}"
    allowed = {o.strip() for o in settings.allowed_origins.split(",") if o.strip()}
    return origin == own or origin in allowed


async def websocket_handler(request: web.Request) -> web.StreamResponse:
    system = request.app[SYSTEM]
    settings = system.settings
    peer = request.remote or "?"
    if not origin_allowed(request, settings):
        log.info(
            "refused socket from %s: Origin %r not allowed",
            peer,
            request.headers.get("Origin"),
            extra=logs.fields(address=peer),
        )
        return web.Response(status=403, text="Origin not allowed")
    refusal = request.app[CONNECTIONS].admit(peer)
    if refusal is not None:
        log.info("refused socket from %s: %s", peer, refusal, extra=logs.fields(address=peer))
        return web.Response(status=503, text=refusal)
    try:
        return await _serve(request, system, settings, peer)
    finally:
        request.app[CONNECTIONS].release(peer)


async def _serve(
    request: web.Request, system: QuizSystem, settings: Settings, peer: str
) -> web.WebSocketResponse:
    ws = web.WebSocketResponse(max_msg_size=protocol.MAX_FRAME_BYTES, compress=False, autoping=True)
    if settings.cluster:
        ws.headers[NODE_HEADER] = settings.node_name  # which node a socket reached (docs/cluster.md)
    await ws.prepare(request)
    require_masked_frames(request.protocol, peer)
    loop = asyncio.get_running_loop()
    session = SocketSession(
        ws,
        loop,
        peer,
        max_queued=settings.outbox_max_messages,
        max_bytes=settings.outbox_max_bytes,
        send_timeout_s=settings.send_timeout_s,
        transport=request.transport,
        post=request.app[LOOP_POST],
    )
    # Cluster mode: the node a redirect sent this socket to (HAProxy routes by it).
    connection = system.start_connection(session, request.query.get("node") if settings.cluster else None)
    request.app[SESSIONS].add(session)
    writer = asyncio.create_task(session.run_writer())
    hello_deadline = loop.call_later(settings.hello_timeout_s, session.close_if_not_authenticated)
    throttle = Throttle(session, settings, loop.time())
    request.app[SOCKETS].add(ws)
    metrics.SOCKETS_OPEN.inc()
    log.info("socket opened from %s", peer, extra=logs.fields(address=peer))
    try:
        async for frame in ws:
            if not throttle.admit(loop.time()):
                if throttle.abusive:
                    break
                continue
            if frame.type == WSMsgType.TEXT:
                _forward(frame.data, session, connection, system.clock.now_ms())
            elif frame.type == WSMsgType.BINARY:
                session.enqueue(
                    Batch(protocol.encode(protocol.error("bad_message", "Send text frames only")))
                )
            elif frame.type == WSMsgType.ERROR:
                # aiohttp closes the socket itself (a frame too big: 1009; a protocol error: 1002)
                session.closed_by_server_with = getattr(frame.data, "code", None)
                break
    finally:
        metrics.SOCKETS_OPEN.dec()
        hello_deadline.cancel()
        tell_quietly(connection, SocketClosed())
        system.connection_ended(connection)
        request.app[SOCKETS].discard(ws)
        if throttle.abusive:
            await writer  # it sends the rate_limited error, then closes with 1008
        elif not ws.closed:
            await ws.close()
        writer.cancel()
        by_server = session.closed_by_server_with
        log.info(
            "socket from %s (user %s) closed by the %s with code %s",
            peer,
            session.user_id,
            "client" if by_server is None else "server",
            ws.close_code if by_server is None else by_server,
            extra=logs.fields(address=peer, user_id=session.user_id),
        )
    return ws


class Throttle:
    """The socket's message rate: a token bucket, then a close for sustained abuse."""

    def __init__(self, session: SocketSession, settings: Settings, now: float):
        self.session = session
        self.settings = settings
        self.bucket = TokenBucket(settings.player_messages_per_s, settings.player_burst, now)
        self.meter = AbuseMeter(settings.rate_abuse_limit)
        self.host_rate = False
        self.last_notice = float("-inf")
        self.abusive = False

    def admit(self, now: float) -> bool:
        if self.session.is_host and not self.host_rate:
            self.bucket.reconfigure(self.settings.host_messages_per_s, self.settings.host_burst)
            self.host_rate = True
        if self.bucket.take(now):
            return True
        metrics.RATE_LIMITED.inc()
        session = self.session
        if self.meter.refuse(now):
            log.warning(
                "rate limit: closing socket from %s (user %s)",
                session.peer,
                session.user_id,
                extra=logs.fields(address=session.peer, user_id=session.user_id),
            )
            session.enqueue(
                Batch(protocol.encode(protocol.error("rate_limited", "Too many messages; disconnecting")))
            )
            session.request_close(protocol.CLOSE_POLICY, "rate limit")
            metrics.SOCKETS_CLOSED.labels("rate_limit").inc()
            self.abusive = True
        elif now - self.last_notice >= 1.0:
            log.info(
                "rate limit: refusing messages from %s (user %s)",
                session.peer,
                session.user_id,
                extra=logs.fields(address=session.peer, user_id=session.user_id),
            )
            session.enqueue(
                Batch(protocol.encode(protocol.error("rate_limited", "Slow down: too many messages")))
            )
            self.last_notice = now
        return False


def _forward(text: str, session: SocketSession, connection: pykka.ActorRef[Any], received_at: int) -> None:
    try:
        message = protocol.parse_client_frame(text)
    except protocol.ProtocolError as e:
        metrics.count_received("invalid")
        session.enqueue(Batch(protocol.encode(protocol.error(e.code, e.message, e.ref))))
        return
    metrics.count_received(message["type"])  # a known type: the protocol checked it
    tell_quietly(connection, ClientMessage(message, received_at))


async def close_all_sockets(app: web.Application) -> None:
    """On shutdown, all at once: every socket is told the server is going away
    (1001), or after a drain that it restarts (1012: reconnect now)."""
    drain = app[DRAIN]
    open_sockets = app[SOCKETS]  # apart: mypy reads list(app[SOCKETS]) as asking for an Iterable key
    sockets = list(open_sockets)
    message = b"Server restart" if drain.draining else b"Server shutdown"
    metrics.SOCKETS_CLOSED.labels(drain.close_reason).inc(len(sockets))
    for session in app[SESSIONS]:
        session.closed_by_server_with = drain.close_code
    closing = [ws.close(code=drain.close_code, message=message) for ws in sockets]
    await asyncio.gather(*closing, return_exceptions=True)


async def watch_stalled_sends(app: web.Application) -> None:
    """Once a second, close the sockets whose sends have stalled (slow consumers)."""
    loop = asyncio.get_running_loop()
    sessions = app[SESSIONS]
    while True:
        await asyncio.sleep(1.0)
        now = loop.time()
        for session in list(sessions):
            session.check_stalled(now)
