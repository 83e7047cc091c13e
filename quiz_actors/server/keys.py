"""Typed keys for what the aiohttp application holds."""

from __future__ import annotations

import weakref

from aiohttp import web

from quiz_actors.server.drain import Drain
from quiz_actors.server.limits import ConnectionCounter
from quiz_actors.server.loop_post import LoopPost
from quiz_actors.system import QuizSystem

SYSTEM = web.AppKey("system", QuizSystem)
SOCKETS = web.AppKey("sockets", weakref.WeakSet)
CONNECTIONS = web.AppKey("connections", ConnectionCounter)
LOOP_POST = web.AppKey("loop_post", LoopPost)
SESSIONS = web.AppKey("sessions", weakref.WeakSet)
DRAIN = web.AppKey("drain", Drain)
