"""The address players join at, and the QR code of the join link the host's lobby shows.

A teacher opens the host page on the laptop that runs the server, often as
``http://localhost:8080/host``: that address is the laptop's own, and no phone
can reach it. So the lobby's address is chosen, and the lobby says which and why:

1. ``--public-url`` when it is set (a name behind a reverse proxy, a port forward);
2. else the address the host page was opened at, unless that is loopback;
3. else this machine's own network address (a non-loopback interface), on the
   port the page was opened at.

A server that listens on loopback only is told to listen wider, unless the page
came through one of its trusted reverse proxies (``--trusted-proxies``): then
the proxy's address is what phones reach, and a node of a cluster listening on
loopback behind HAProxy on the same machine is as it should be.

``GET /api/join`` tells the page; ``GET /api/join/qr`` draws the link (the player
page with the room's code filled in) as an SVG QR code, made here with segno so
the pages load nothing from elsewhere (docs/web-client.md).
"""

from __future__ import annotations

import asyncio
import fcntl
import ipaddress
import json
import re
import socket
import struct
from dataclasses import asdict, dataclass
from io import BytesIO
from urllib.parse import urlsplit

import segno
from aiohttp import web

from quiz_actors.server.forwarded import came_through_trusted_proxy
from quiz_actors.server.keys import SYSTEM
from quiz_actors.server.pages import SECURITY_HEADERS

routes = web.RouteTableDef()

_CODE = re.compile(r"^\d{6}$")
_SIOCGIFADDR = 0x8915  # Linux: an interface's IPv4 address


@dataclass(frozen=True)
class JoinAddress:
    url: str  # the player page, ending in "/"
    shown: str  # what the lobby prints: the url without http:// and the final "/"
    source: str  # "public_url", "page" or "network"
    reason: str  # why this address, in plain words (English, for API clients)
    warning: str | None  # why phones may still not reach it, or None
    # The same as codes, which the pages show in the reader's language (i18n-*.json,
    # "join.why.*" and "join.warning.*"): public_url, page, page_no_network or network;
    # loopback_only, no_network or None.
    why: str = ""
    warning_code: str | None = None

    def link(self, code: str | None) -> str:
        """The player page with the room's code filled in (player.js reads ``?code=``)."""
        return self.url if code is None else f"{self.url}?code={code}"


def is_loopback(host: str) -> bool:
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def network_addresses() -> list[str]:
    """This machine's IPv4 addresses other than loopback: from its name, else from each
    network interface (no packet is sent to find them)."""
    found: list[str] = []
    try:
        for *_, sockaddr in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET):
            found.append(str(sockaddr[0]))
    except OSError:
        pass
    for _, name in socket.if_nameindex():
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            try:
                packed = fcntl.ioctl(probe.fileno(), _SIOCGIFADDR, struct.pack("256s", name.encode()[:15]))
            except OSError:  # an interface without an IPv4 address
                continue
        found.append(socket.inet_ntoa(packed[20:24]))
    usable = []
    for address in found:
        ip = ipaddress.ip_address(address)
        if not (ip.is_loopback or ip.is_link_local or ip.is_unspecified) and address not in usable:
            usable.append(address)
    return usable


def choose(
    public_url: str,
    listen_host: str,
    scheme: str,
    page_host: str,
    found: list[str],
    behind_proxy: bool = False,
) -> JoinAddress:
    """The join address for a host page opened at ``scheme://page_host`` (through a
    trusted reverse proxy: ``behind_proxy``)."""
    if public_url:
        url = public_url if public_url.endswith("/") else public_url + "/"
        return JoinAddress(
            url, _shown(url), "public_url", "set on this server with --public-url", None, why="public_url"
        )
    parts = urlsplit(f"//{page_host}")
    hostname = parts.hostname or ""
    listens_on_loopback = is_loopback(listen_host) and not behind_proxy
    warning = (
        f"The server listens only on {listen_host}, so phones cannot reach it: "
        "restart it with --host 0.0.0.0 (or give --public-url)."
        if listens_on_loopback
        else None
    )
    if not is_loopback(hostname):
        url = f"{scheme}://{page_host}/"
        return JoinAddress(
            url,
            _shown(url),
            "page",
            "the address this page was opened at",
            warning,
            why="page",
            warning_code=warning and "loopback_only",
        )
    if not found:
        url = f"{scheme}://{page_host}/"
        return JoinAddress(
            url,
            _shown(url),
            "page",
            f"this computer has no network address: {hostname} only works on this computer",
            "Connect it to the network the phones are on, or give --public-url.",
            why="page_no_network",
            warning_code="no_network",
        )
    port = f":{parts.port}" if parts.port else ""
    url = f"{scheme}://{found[0]}{port}/"
    reason = (
        f"this computer's network address ({hostname}, where this page was opened, "
        "is not reachable from phones)"
    )
    return JoinAddress(
        url, _shown(url), "network", reason, warning, why="network", warning_code=warning and "loopback_only"
    )


def _shown(url: str) -> str:
    return re.sub(r"^http://", "", url).rstrip("/")


async def join_address(request: web.Request) -> JoinAddress:
    settings = request.app[SYSTEM].settings
    found: list[str] = []
    if not settings.public_url and is_loopback(urlsplit(f"//{request.host}").hostname or ""):
        found = await asyncio.get_running_loop().run_in_executor(None, network_addresses)
    proxied = came_through_trusted_proxy(request, settings.networks("trusted_proxies"))
    return choose(
        settings.public_url, settings.host, request.scheme, request.host, found, behind_proxy=proxied
    )


def _code(request: web.Request) -> str | None:
    code = request.query.get("code")
    if code is None:
        return None
    if not _CODE.match(code):
        raise web.HTTPBadRequest(
            text=json.dumps(
                {
                    "error": {
                        "code": "bad_code",
                        "message": "A room code has 6 digits",
                        "details": [],
                        "problems": [],
                    }
                }
            ),
            content_type="application/json",
        )
    return code


def qr_svg(link: str) -> bytes:
    """The link as an SVG QR code, scaled by whoever shows it (a viewBox, no fixed size)."""
    out = BytesIO()
    segno.make(link, error="m", micro=False).save(
        out, kind="svg", scale=1, border=4, dark="#000", light="#fff", xmldecl=False, omitsize=True
    )
    return out.getvalue()


@routes.get("/api/join")
async def join_info(request: web.Request) -> web.Response:
    """Where players join: ``{url, shown, link, source, reason, warning, qr}``."""
    code = _code(request)
    address = await join_address(request)
    body = {
        **asdict(address),
        "link": address.link(code),
        "qr": f"/api/join/qr?code={code}" if code else None,
    }
    return web.json_response(body, headers={"Cache-Control": "no-store"})


@routes.get("/api/join/qr")
async def join_qr(request: web.Request) -> web.Response:
    code = _code(request)
    address = await join_address(request)
    headers = {**SECURITY_HEADERS, "Cache-Control": "no-store"}
    return web.Response(body=qr_svg(address.link(code)), content_type="image/svg+xml", headers=headers)
