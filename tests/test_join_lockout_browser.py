"""A school's network locked out for guessing codes, as its phones and its teacher see it.

Every page and client here speaks from 127.0.0.1: one address, as a school behind NAT.
Someone tries wrong codes until the address is locked out. A child joining now reads why
and for how long, in the page's language; the players already in the game, and the
teacher's screen, reload and are back in it; the game goes on.
"""

from __future__ import annotations

import aiohttp
import pytest

from quiz_actors.clock import SystemClock
from quiz_actors.settings import Settings
from tests.browser import LAPTOP, PHONE, expect, screenshot
from tests.client import QuizClient
from tests.conftest import RunningServer
from tests.test_browser import create_room, join

WRONG_CODES = 3  # a small limit, so that the test locks the address out quickly
SMALL_PHONE = {**PHONE, "viewport": {"width": 320, "height": 640}}


@pytest.fixture
async def live_server(tmp_path, request):
    """The server the pages talk to; a test may change its settings (indirect parameter)."""
    settings = Settings(
        store=f"sqlite:///{tmp_path}/events.sqlite3",
        get_ready_s=0,
        failed_joins_per_ip=WRONG_CODES,
        failed_join_lockout_s=300,
        **getattr(request, "param", {}),
    )
    running = await RunningServer(settings, SystemClock()).start()
    yield running
    await running.stop()


async def lock_out_the_address(server: RunningServer, code: str) -> None:
    async with aiohttp.ClientSession() as http:
        guesser = await QuizClient(http, server.ws_url).connect()
        await guesser.hello()
        wrong = [c for c in (f"{n:06d}" for n in range(100, 200)) if c != code][:WRONG_CODES]
        for guess in wrong:
            reply = await guesser.request({"type": "join", "code": guess, "name": "Guess"}, "state")
            assert reply["code"] == "room_not_found", reply
        reply = await guesser.request({"type": "join", "code": code, "name": "Guess"}, "state")
        assert reply.get("reason") == "wrong_codes", reply
        await guesser.close()


async def test_a_locked_out_school_keeps_its_game_and_newcomers_read_why(pages, live_server):
    host = await pages.open("/host", LAPTOP, "host")
    code = await create_room(host, "Quick demo")
    ada = await pages.open("/", PHONE, "ada")
    await join(ada, code, "Ada")
    await expect(ada.get_by_text("You're in!")).to_be_visible()

    await lock_out_the_address(live_server, code)

    # A child arriving now: the typed code is asked about, and the answer says why and how long.
    for device, width in ((SMALL_PHONE, 320), (PHONE, 390)):
        late = await pages.open("/", device, f"late-{width}")
        await expect(late.locator("#join-button")).to_be_enabled()
        await late.fill("#code", code)
        await expect(late.locator("#join-error")).to_have_text(
            "Too many wrong codes were tried on this network. New players can join again in 5 min; "
            "players already in a game can still get back in."
        )
        await expect(late.locator("#name")).to_be_hidden()
        await screenshot(late, f"join-lockout-{width}")
    # The same, on a phone set to German.
    german = await pages.open("/", {**PHONE, "locale": "de-DE"}, "late-de")
    await expect(german.locator("#join-button")).to_be_enabled()
    await german.fill("#code", code)
    await expect(german.locator("#join-error")).to_contain_text(
        "In diesem Netzwerk wurden zu viele falsche Codes ausprobiert. Neue Spieler können in 5 Min."
    )
    await screenshot(german, "join-lockout-390-de")

    # Ada's phone and the teacher's screen reload (a dropped Wi-Fi): both are back in the room.
    await ada.reload()
    await expect(ada.get_by_text("You're in!")).to_be_visible()
    await host.reload()
    await expect(host.locator("#players .name")).to_have_text(["Ada"])
    await host.click("#start")
    await expect(ada.locator("#q-text")).to_be_visible()
    assert pages.errors == []


@pytest.mark.parametrize("live_server", [{"member_joins_per_minute": 1}], indirect=True)
async def test_a_phone_that_comes_back_too_often_reads_why(pages, live_server):
    """A member's own budget of joins (one a minute here): the second reload within the
    minute is refused, and the phone says so, not that its network is to blame."""
    host = await pages.open("/host", LAPTOP, "host")
    code = await create_room(host, "Quick demo")
    for device, width in ((SMALL_PHONE, 320), (PHONE, 390)):
        phone = await pages.open("/", device, f"flapping-{width}")
        await join(phone, code, f"Ada{width}")
        await expect(phone.get_by_text("You're in!")).to_be_visible()
        await phone.reload()  # back in with its seat: the one join of its budget
        await expect(phone.get_by_text("You're in!")).to_be_visible()
        await phone.reload()
        await expect(phone.locator("#join-error")).to_have_text(
            "This device came back into the game too often just now. It can get back in 1 min."
        )
        await screenshot(phone, f"join-too-many-rejoins-{width}")
    assert pages.errors == []
