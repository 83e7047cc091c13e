"""Requests through a reverse proxy: the client's address and scheme from the proxy's headers.

Behind a proxy that terminates TLS every request comes from the proxy's
address over plain http. The per-address limits would then count all players
as one, and a page served over https would fail the Origin check of ``/ws``.
For peers in ``--trusted-proxies`` only, the request is taken to come from the
last address in ``X-Forwarded-For`` (the one the proxy itself added; the
entries before it are whatever the client sent) over ``X-Forwarded-Proto``.
Anyone else's forwarding headers are ignored.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.typedefs import Middleware

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def trusted_proxy_middleware(
    proxies: list[ipaddress.IPv4Network | ipaddress.IPv6Network],
) -> Middleware:
    @web.middleware
    async def through_trusted_proxy(request: web.Request, handler: Handler) -> web.StreamResponse:
        if _is_trusted(request.remote, proxies):
            changes: dict[str, str] = {}
            client = _last_address(request.headers.get("X-Forwarded-For", ""))
            if client is not None:
                changes["remote"] = client
            scheme = request.headers.get("X-Forwarded-Proto", "").strip().lower()
            if scheme in ("http", "https"):
                changes["scheme"] = scheme
            if changes:
                request = request.clone(**changes)  # type: ignore[arg-type]  # clone() types each keyword on its own; both are str
        return await handler(request)

    return through_trusted_proxy


def came_through_trusted_proxy(
    request: web.Request, proxies: list[ipaddress.IPv4Network | ipaddress.IPv6Network]
) -> bool:
    """Whether the request came through a trusted proxy: the connection is one's
    (``request.remote`` may already be the client's address the proxy forwarded) and
    it says whom it forwarded. A page opened on the machine itself, straight at a node
    whose trusted proxy is 127.0.0.1, did not."""
    if not request.headers.get("X-Forwarded-For", "").strip():
        return False
    transport = request.transport
    peer = transport.get_extra_info("peername") if transport is not None else None
    return _is_trusted(str(peer[0]) if peer else None, proxies)


def _is_trusted(peer: str | None, proxies: list[ipaddress.IPv4Network | ipaddress.IPv6Network]) -> bool:
    if not proxies or not peer:
        return False
    try:
        address = ipaddress.ip_address(peer)
    except ValueError:
        return False
    return any(address in network for network in proxies)


def _last_address(header: str) -> str | None:
    entries = [entry.strip() for entry in header.split(",") if entry.strip()]
    if not entries:
        return None
    try:
        return str(ipaddress.ip_address(entries[-1]))
    except ValueError:
        return None
