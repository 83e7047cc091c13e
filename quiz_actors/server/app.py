"""The aiohttp application factory."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterator

from aiohttp import web
from aiohttp.typedefs import Middleware

from quiz_actors import metrics
from quiz_actors.actors.pooled import LoopDispatcher
from quiz_actors.clock import Clock
from quiz_actors.server import (
    http_api,
    interchange_http,
    join_address,
    media_http,
    openapi,
    ops_http,
    pages,
    quiz_http,
    reports_http,
)
from quiz_actors.server.accept_guard import header_deadline
from quiz_actors.server.bridge import close_all_sockets, watch_stalled_sends, websocket_handler
from quiz_actors.server.drain import Drain
from quiz_actors.server.forwarded import trusted_proxy_middleware
from quiz_actors.server.http_json import json_errors_under_api
from quiz_actors.server.keys import (
    ACCEPTED,
    CONNECTIONS,
    DRAIN,
    LOOP_POST,
    PAST_GAMES,
    SESSIONS,
    SOCKETS,
    STORE_PING,
    SYSTEM,
)
from quiz_actors.server.limits import ConnectionCounter
from quiz_actors.server.loop_post import LoopPost
from quiz_actors.server.past_games import PastGames
from quiz_actors.server.store_ping import SharedStorePing
from quiz_actors.settings import Settings
from quiz_actors.system import QuizSystem


def create_app(settings: Settings, clock: Clock | None = None) -> web.Application:
    # Outermost: the connection's header deadline stops before anything else runs.
    middlewares: list[Middleware] = [header_deadline]
    proxies = settings.networks("trusted_proxies")
    if proxies:
        middlewares.append(trusted_proxy_middleware(proxies))
    middlewares.append(json_errors_under_api)
    app = web.Application(client_max_size=http_api.MAX_QUIZ_BYTES, middlewares=middlewares)
    app[SYSTEM] = QuizSystem(settings, clock)
    app[SOCKETS] = weakref.WeakSet()
    app[LOOP_POST] = LoopPost()
    app[SESSIONS] = weakref.WeakSet()
    app[CONNECTIONS] = ConnectionCounter(settings.max_connections, settings.max_connections_per_ip)
    app[ACCEPTED] = ConnectionCounter(settings.max_connections, settings.max_connections_per_ip)
    app[DRAIN] = Drain()
    app[PAST_GAMES] = PastGames(settings.store)
    app[STORE_PING] = SharedStorePing()
    app.cleanup_ctx.append(_run_system)
    app.on_shutdown.append(_stop_rooms)
    app.on_shutdown.append(close_all_sockets)
    app.router.add_get("/ws", websocket_handler)
    # Before http_api: /api/quizzes/template.xlsx and /import are not quiz ids.
    app.router.add_routes(interchange_http.routes)
    app.router.add_routes(http_api.routes)
    app.router.add_routes(join_address.routes)
    app.router.add_routes(quiz_http.routes)
    app.router.add_routes(media_http.routes)
    app.router.add_routes(reports_http.routes)
    app.router.add_routes(openapi.routes)
    app.router.add_routes(ops_http.routes)
    app.router.add_routes(pages.routes)
    return app


async def _run_system(app: web.Application) -> AsyncIterator[None]:
    system = app[SYSTEM]
    loop = asyncio.get_running_loop()
    app[LOOP_POST].bind()
    # Connection actors run on this loop, which owns their sockets.
    await loop.run_in_executor(None, system.start, LoopDispatcher(app[LOOP_POST]))
    metrics.watch_gc()
    watchdogs = [
        asyncio.create_task(watch_stalled_sends(app)),
        asyncio.create_task(ops_http.watch_loop_lag()),
    ]
    yield
    for task in watchdogs:
        task.cancel()
    app[DRAIN].end()
    await loop.run_in_executor(None, app[PAST_GAMES].close)
    if system.store is not None:
        await system.store.close_ping()  # on this loop, which used it
    await loop.run_in_executor(None, system.stop)


async def _stop_rooms(app: web.Application) -> None:
    await asyncio.get_running_loop().run_in_executor(None, app[SYSTEM].stop_rooms)
