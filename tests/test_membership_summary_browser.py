"""The player page in a big room hears of members by summary (docs/protocol.md,
"Membership summaries in a big room"): its join asks for them, its lobby shows
the count they carry, and the seq rule takes them without a resync."""

from __future__ import annotations

import json

import pytest

from quiz_actors.clock import SystemClock
from quiz_actors.settings import Settings
from tests.browser import PHONE, expect, screenshot
from tests.client import QuizClient
from tests.conftest import RunningServer, create_room, join

BIG_ROOM = 3  # members online from which the room coalesces (the shipped 100, made small)


@pytest.fixture
async def live_server(tmp_path):
    settings = Settings(
        store=f"sqlite:///{tmp_path}/events.sqlite3",
        get_ready_s=0,
        fanout_coalesce_above=BIG_ROOM,
        fanout_window_s=0.05,
    )
    running = await RunningServer(settings, SystemClock()).start()
    yield running
    await running.stop()


async def test_the_player_lobby_counts_players_from_summaries(pages, live_server, http):
    async def bot() -> QuizClient:
        client = await QuizClient(http, live_server.ws_url).connect()
        await client.hello()
        return client

    host = await bot()
    code, _ = await create_room(host, name="Host")

    to_page: list[dict] = []
    from_page: list[dict] = []

    def route(socket):
        server = socket.connect_to_server()

        def down(frame):
            data = json.loads(frame)
            to_page.extend(data if isinstance(data, list) else [data])
            socket.send(frame)

        def up(frame):
            from_page.append(json.loads(frame))
            server.send(frame)

        server.on_message(down)
        socket.on_message(up)

    ann = await pages.open("/", PHONE, "ann", route_socket=route)
    await ann.fill("#code", code)
    await ann.fill("#name", "Ann")
    await expect(ann.locator("#join-button")).to_be_enabled()
    await ann.click("#join-button")
    await expect(ann.locator("#lobby-count")).to_have_text("1 player in the game")
    assert all(m.get("membership") == "summary" for m in from_page if m["type"] == "join")

    bots = []
    for i in range(5):
        bots.append(await bot())
        await join(bots[-1], code, f"Bot {i}")
    await expect(ann.locator("#lobby-count")).to_have_text("6 players in the game")
    await screenshot(ann, "summary-lobby-390")
    await ann.set_viewport_size({"width": 320, "height": 640})
    await screenshot(ann, "summary-lobby-320")
    await ann.set_viewport_size(PHONE["viewport"])
    summaries = [m for m in to_page if m["type"] == "members_changed"]
    assert summaries and summaries[-1]["count"] == 7  # the host is a member, not a player
    # The room was big from the second bot on (host, Ann and Bot 0 online): no join one by one since.
    joined = [m["member"]["name"] for m in to_page if m["type"] == "member_joined"]
    assert joined == ["Bot 0"]

    # A bot leaves: the count goes down, by summary too.
    await bots[0].request({"type": "leave"}, "left")
    await expect(ann.locator("#lobby-count")).to_have_text("5 players in the game")

    # Reloaded in a big room, the page gets a state that lists the host and Ann only,
    # and the number of members: the lobby still counts everyone.
    await ann.reload()
    await expect(ann.locator("#lobby-count")).to_have_text("5 players in the game")
    brief = [m for m in to_page if m["type"] == "state"][-1]["room"]
    assert brief["member_count"] == 6 and len(brief["members"]) == 2

    # The game goes on from the summary's seq: the question arrives, no resync was needed.
    await host.request({"type": "start"}, "question_shown")
    await expect(ann.locator("#q-text")).to_be_visible()
    assert not [m for m in from_page if m["type"] == "resync"]
    assert pages.errors == []
