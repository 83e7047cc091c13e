"""Game reports over HTTP: the host's report (JSON, CSV, XLSX), past games, a player's own results.

Who asks is proved with ``Authorization: Bearer …``: either the session token a
page got in ``welcome`` (the same token that proves the user on ``/ws``; the
pages keep it in localStorage), or the server's ``--admin-key``. A game's
report is its host's (and the admin's); a player sees only their own answers,
once the quiz has ended. Nobody else learns anything about a game beyond
"not yours".

Reports are built from the room's stored events (``tools/game_results.py``);
the list of past games from the audit read model (``past_games.py``). Both
block on the store, so they run in the default executor.
"""

from __future__ import annotations

import asyncio
import hmac
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from aiohttp import web

from eventstore.replay import ReplayError, read_events
from quiz_actors.domain.room import Room
from quiz_actors.server.http_json import error_reply
from quiz_actors.server.keys import PAST_GAMES, SYSTEM
from quiz_actors.system import started
from quiz_actors.tools.game_results import game_results, player_results
from quiz_actors.tools.spreadsheets import report_csv, report_xlsx

routes = web.RouteTableDef()

_CODE = re.compile(r"\d{6}")
PRIVATE = {"Cache-Control": "no-store"}  # a report is nobody else's business, caches included
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class Refused(Exception):
    """An answer other than the report: its HTTP status, code and plain words."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message

    def response(self) -> web.Response:
        headers = {**PRIVATE}
        if self.status == 401:
            headers["WWW-Authenticate"] = 'Bearer realm="quiz reports"'
        return error_reply(self.status, self.code, self.message, headers=headers)


@dataclass(frozen=True)
class Caller:
    user_id: str | None  # from a session token
    admin: bool  # presented the admin key


def no_credentials() -> Refused:
    return Refused(
        401,
        "unauthorized",
        "Reports need the host's session (open this from the host page) or the server's admin key",
    )


def caller_of(request: web.Request) -> Caller:
    """Who sends this request, or refuse it (401)."""
    header = request.headers.get("Authorization", "")
    scheme, _, presented = header.partition(" ")
    presented = presented.strip()
    if scheme.lower() != "bearer" or not presented:
        raise no_credentials()
    system = request.app[SYSTEM]
    key = system.settings.admin_key
    if key and hmac.compare_digest(presented.encode(), key.encode()):
        return Caller(None, True)
    user_id = started(system.signer).verify(presented, system.clock.now_ms())
    if user_id is None:
        raise Refused(401, "unauthorized", "This session is not valid here (expired, or from another server)")
    return Caller(user_id, False)


async def _blocking(call: Callable[..., Any], *args: Any) -> Any:
    return await asyncio.get_running_loop().run_in_executor(None, call, *args)


def _room_events(request: web.Request, room_id: str) -> list[Any] | None:
    """The room's stored events, or None when no room has this id."""
    store = started(request.app[SYSTEM].store)
    try:
        events = read_events(store, UUID(room_id))
    except ReplayError as e:
        raise Refused(500, "internal", f"This game's stored events cannot be read ({e})") from None
    if not events or not isinstance(events[0], Room.RoomCreated):
        return None
    return events


def _load(request: web.Request, caller: Caller, as_player: bool) -> dict[str, Any]:
    """The report of the game the URL names, if the caller may see it (as its host, or as a player)."""
    ident = request.match_info["room"]
    if _CODE.fullmatch(ident):
        room_ids = [r.room_id for r in request.app[PAST_GAMES].rooms_with_code(ident)]
    else:
        try:
            room_ids = [str(UUID(ident))]
        except ValueError:
            raise Refused(400, "bad_request", "Name a game by its room id or its 6-digit code") from None
    refusal = Refused(404, "game_not_found", "No game here has that code or id")
    # A reused code: the newest of its rooms that is this caller's.
    for room_id in room_ids:
        events = _room_events(request, room_id)
        if events is None:
            continue
        try:
            report = game_results(events)
        except ReplayError as e:
            raise Refused(500, "internal", f"This game's stored events do not replay ({e})") from None
        assert report is not None
        host_id = events[0].host_id
        if as_player:
            if player_results(report, caller.user_id or "") is not None:
                return report
            refusal = Refused(403, "forbidden", "You did not play in this game")
        elif caller.admin or caller.user_id == host_id:
            return report
        else:
            refusal = Refused(
                403, "forbidden", "Only the host of this game (or the server's admin) sees its report"
            )
    raise refusal


async def _report(request: web.Request) -> dict[str, Any]:
    caller = caller_of(request)
    report: dict[str, Any] = await _blocking(_load, request, caller, False)
    return report


def _filename(report: dict[str, Any], extension: str) -> str:
    day = datetime.fromtimestamp(report["created_at_ms"] / 1000, tz=UTC).strftime("%Y-%m-%d")
    return f"quiz-{report['code']}-{day}.{extension}"


def _refusals(handler: Callable[[web.Request], Any]) -> Callable[[web.Request], Any]:
    async def handle(request: web.Request) -> web.StreamResponse:
        try:
            response: web.StreamResponse = await handler(request)
            return response
        except Refused as refused:
            return refused.response()

    return handle


@routes.get("/api/games")
@_refusals
async def list_games(request: web.Request) -> web.StreamResponse:
    caller = caller_of(request)
    games = await _blocking(request.app[PAST_GAMES].listed, None if caller.admin else caller.user_id)
    return web.json_response({"games": games, "all_hosts": caller.admin}, headers=PRIVATE)


@routes.get("/api/games/{room}/report")
@_refusals
async def report_json(request: web.Request) -> web.StreamResponse:
    return web.json_response(await _report(request), headers=PRIVATE)


@routes.get("/api/games/{room}/report.csv")
@_refusals
async def report_as_csv(request: web.Request) -> web.StreamResponse:
    report = await _report(request)
    # A byte-order mark, so that Excel reads the UTF-8 (accented names) as UTF-8.
    body = ("\ufeff" + report_csv(report)).encode()
    disposition = f'attachment; filename="{_filename(report, "csv")}"'
    headers = {**PRIVATE, "Content-Disposition": disposition}
    return web.Response(body=body, content_type="text/csv", charset="utf-8", headers=headers)


@routes.get("/api/games/{room}/report.xlsx")
@_refusals
async def report_as_xlsx(request: web.Request) -> web.StreamResponse:
    report = await _report(request)
    body = await _blocking(report_xlsx, report)
    disposition = f'attachment; filename="{_filename(report, "xlsx")}"'
    headers = {**PRIVATE, "Content-Disposition": disposition}
    return web.Response(body=body, content_type=XLSX_TYPE, headers=headers)


@routes.get("/api/games/{room}/results/me")
@_refusals
async def my_results(request: web.Request) -> web.StreamResponse:
    caller = caller_of(request)
    if caller.user_id is None:
        raise Refused(
            400, "bad_request", "Results are a player's own: send the player's session, not the admin key"
        )
    report: dict[str, Any] = await _blocking(_load, request, caller, True)
    if not report["finished"]:
        raise Refused(409, "game_not_finished", "The game is still going: your results come at the end")
    return web.json_response(player_results(report, caller.user_id), headers=PRIVATE)
