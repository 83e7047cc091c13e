"""Typed keys for what the aiohttp application holds."""

from __future__ import annotations

import weakref

from aiohttp import web

from quiz_actors.server.drain import Drain
from quiz_actors.server.limits import ConnectionCounter
from quiz_actors.server.loop_post import LoopPost
from quiz_actors.server.past_games import PastGames
from quiz_actors.server.session import SocketSession
from quiz_actors.server.store_ping import SharedStorePing
from quiz_actors.system import QuizSystem

SYSTEM = web.AppKey("system", QuizSystem)
SOCKETS: web.AppKey[weakref.WeakSet[web.WebSocketResponse]] = web.AppKey("sockets")
CONNECTIONS = web.AppKey("connections", ConnectionCounter)  # WebSockets, by client address
ACCEPTED = web.AppKey("accepted", ConnectionCounter)  # every connection from accept, by peer address
LOOP_POST = web.AppKey("loop_post", LoopPost)
SESSIONS: web.AppKey[weakref.WeakSet[SocketSession]] = web.AppKey("sessions")
DRAIN = web.AppKey("drain", Drain)
PAST_GAMES = web.AppKey("past_games", PastGames)  # the audit read model, for the games list
STORE_PING = web.AppKey("store_ping", SharedStorePing)  # /readyz and /healthz ask it
