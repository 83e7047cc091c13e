"""What operators and orchestrators read: ``/metrics``, ``/livez``, ``/readyz``.

``/livez`` answers as long as the event loop runs (restart the process when it
does not). ``/readyz`` says whether to send the server new players: its store
answers and it is not draining before a restart. ``/healthz`` (the store
answers) stays in ``http_api`` for the clients that use it.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import logging

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from quiz_actors import metrics
from quiz_actors.server.keys import DRAIN, STORE_PING, SYSTEM
from quiz_actors.settings import Settings

log = logging.getLogger(__name__)
routes = web.RouteTableDef()

LOOP_LAG_PROBE_S = 0.5


def _metrics_refusal(request: web.Request, settings: Settings) -> web.Response | None:
    networks = settings.networks("metrics_allow")
    if networks:
        try:
            address = ipaddress.ip_address(request.remote or "")
        except ValueError:
            address = None
        if address is None or not any(address in network for network in networks):
            return web.Response(status=403, text="Metrics are not served to your address\n")
    if settings.metrics_token:
        presented = request.headers.get("Authorization", "")
        if not hmac.compare_digest(presented.encode(), f"Bearer {settings.metrics_token}".encode()):
            return web.Response(
                status=401,
                text="Metrics need Authorization: Bearer <token>\n",
                headers={"WWW-Authenticate": "Bearer"},
            )
    return None


@routes.get("/metrics")
async def prometheus_metrics(request: web.Request) -> web.Response:
    refusal = _metrics_refusal(request, request.app[SYSTEM].settings)
    if refusal is not None:
        return refusal
    response = web.Response(body=generate_latest(metrics.REGISTRY))
    response.headers["Content-Type"] = CONTENT_TYPE_LATEST
    return response


@routes.get("/livez")
async def live(request: web.Request) -> web.Response:
    return web.json_response({"status": "alive"})


@routes.get("/readyz")
async def ready(request: web.Request) -> web.Response:
    if request.app[DRAIN].draining:
        return web.json_response({"status": "draining"}, status=503)
    store = request.app[SYSTEM].store
    if store is None:
        return web.json_response({"status": "starting"}, status=503)
    if not await request.app[STORE_PING].store_answers(store):  # one quick ping, shared with /healthz
        return web.json_response({"status": "store unavailable"}, status=503)
    return web.json_response({"status": "ready"})


async def watch_loop_lag() -> None:
    """Twice a second, how late the loop woke us: the time other work held it."""
    loop = asyncio.get_running_loop()
    while True:
        expected = loop.time() + LOOP_LAG_PROBE_S
        await asyncio.sleep(LOOP_LAG_PROBE_S)
        metrics.LOOP_LAG_SECONDS.observe(max(0.0, loop.time() - expected))
