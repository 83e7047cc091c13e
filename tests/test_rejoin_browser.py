"""Back on a new socket, a page waits to be back in its room before it lets anyone act.

A lost connection is followed by a new socket, a ``welcome`` and then the page's
own ``join``, answered with the room's ``state``. In a cluster the node taking a
room over after a crash holds that join until the dead node's lease runs out (a
few seconds): a teacher's walk-through found the phones' answer buttons and the
projector's buttons back on at the ``welcome``, and every tap in those seconds
refused as "You are not in this game any more.". Here the test holds the
``state`` on its way to the page (Playwright's WebSocket routing) for as long as
it likes, as that node does, and looks at the pages meanwhile.

And a phone whose first socket reached a node that does not serve the room is
redirected (in a cluster, ``redirect`` then close 4009): the name box must still
come up by itself once the code is typed. The test plays that node's part.

A real server (SQLite, the system clock), headless Chromium; screenshots in
test-output/ at 320 and 390 px and on a 1920 × 1080 projector.
"""

from __future__ import annotations

import asyncio
import json
import re

import pytest

from tests.browser import PHONE, answers_open_at_once, expect, screenshot

PHONE_320 = {"viewport": {"width": 320, "height": 640}, "is_mobile": True, "has_touch": True}
PROJECTOR = {"viewport": {"width": 1920, "height": 1080}}
SOCKET = re.compile(r"/ws(\?.*)?$")


@pytest.fixture
async def live_server(tmp_path):
    async with answers_open_at_once(tmp_path) as running:
        yield running


class Line:
    """A page's sockets, through the test: it can drop the current one, and hold the
    next ``state`` and the room's messages after it until ``release``."""

    def __init__(self) -> None:
        self.current = None
        self.holding = False
        self.held: list = []  # (route, text) in the order the server sent them
        self.cut = False  # the page's next sockets reach no server (a phone out of signal)

    async def route(self, page_side) -> None:
        self.current = page_side
        if self.cut:
            return  # open as the page sees it, but nothing comes back
        server_side = page_side.connect_to_server()

        def from_server(text) -> None:
            # The room's messages wait behind the state; pings and pongs pass (the
            # page's watchdog would otherwise count the socket as lost).
            room_message = '"type":"state"' in str(text) or (self.held and '"seq"' in str(text))
            if self.holding and room_message:
                self.held.append((page_side, text))
            else:
                page_side.send(text)

        server_side.on_message(from_server)

    async def drop(self) -> None:
        """The connection is lost (a crash, a phone's Wi-Fi): the page opens another."""
        await self.current.close()

    def release(self) -> None:
        self.holding = False
        for page_side, text in self.held:
            page_side.send(text)
        self.held.clear()


async def a_question_open(pages, lines: dict[str, Line]):
    """A projector (its sockets through ``lines["host"]`` if there is one) and two phones
    (Ann at 390 px, Ben at 320, through their lines) in a room whose first question is open."""
    host_line = lines.get("host")
    host = await pages.open("/host", PROJECTOR, "host", route_socket=host_line.route if host_line else None)
    await host.get_by_label("Quick demo").check()
    await host.click("#create-button")
    await expect(host.locator("#room-code")).to_be_visible()
    code = await host.locator("#room-code").get_attribute("data-code")
    phones = {}
    for name, device in (("ann", PHONE), ("ben", PHONE_320)):
        phone = phones[name] = await pages.open("/", device, name, route_socket=lines[name].route)
        await phone.fill("#code", code)
        await phone.fill("#name", name.title())
        await expect(phone.locator("#join-button")).to_be_enabled()
        await phone.click("#join-button")
        await expect(phone.get_by_text("You're in!")).to_be_visible()
    await expect(host.locator("#start")).to_be_enabled()
    await host.click("#start")
    for phone in phones.values():
        await expect(phone.locator("#q-choices button").first).to_be_enabled()
    return host, phones


async def test_a_page_back_on_a_new_socket_waits_for_its_room_before_anyone_can_act(pages):
    lines = {name: Line() for name in ("host", "ann", "ben")}
    host, phones = await a_question_open(pages, lines)

    # Every page loses its socket; their rooms' states are held on the way back.
    for line in lines.values():
        line.holding = True
        await line.drop()
    for line in lines.values():  # each page welcomed on its new socket, its join answered
        for _ in range(100):
            if line.held:
                break
            await asyncio.sleep(0.05)
    # Welcomed (each page sent its join after its welcome): looked at now, not waited for.
    for name, phone in phones.items():
        assert await phone.locator("#status").is_visible(), name
        assert "reconnecting" in (await phone.locator("#status").text_content() or "").lower(), name
        assert await phone.locator("#q-choices button").first.is_disabled(), f"{name} could tap an answer"
        assert "reconnecting" in (await phone.locator("#q-feedback").text_content() or "").lower(), name
    assert await host.locator("#status").is_visible()
    assert await host.locator("#close-question").is_disabled(), "the host could close the question"
    for line in lines.values():
        assert line.held and '"type":"state"' in str(line.held[0][1])  # welcomed, joined, not back yet
    await screenshot(phones["ann"], "rejoin-waiting-phone-390")
    await screenshot(phones["ben"], "rejoin-waiting-phone-320")
    await screenshot(host, "rejoin-waiting-projector-1920")
    for name, phone in phones.items():
        still = await phone.locator("#q-choices button").first.is_disabled()
        assert still, f"{name}: an answer button came back on before the room's state"
    assert await host.locator("#close-question").is_disabled()

    # The room's states arrive: every page is back in its room.
    for line in lines.values():
        line.release()
    for phone in phones.values():
        await expect(phone.locator("#status")).to_be_hidden()
        await expect(phone.locator("#q-choices button").first).to_be_enabled()
    await expect(host.locator("#status")).to_be_hidden()
    await expect(host.locator("#close-question")).to_be_enabled()
    await phones["ann"].locator("#q-choices button").first.tap()
    await expect(phones["ann"].locator("#q-feedback")).to_have_text(re.compile("locked in", re.I))
    await screenshot(phones["ann"], "rejoin-back-phone-390")
    assert pages.errors == []


async def test_the_name_box_comes_up_after_a_redirect_to_the_rooms_node(pages, live_server):
    """The phone's first socket reached "another node": it answers the phone's join (the
    question whether the room wants a name) with ``redirect``, then closes with 4009, as a
    node of a cluster does. The page follows it to a new socket, which here reaches the
    real server, and must ask again there."""
    host = await pages.open("/host", PROJECTOR, "host")
    await host.get_by_label("Quick demo").check()
    await host.click("#create-button")
    await expect(host.locator("#room-code")).to_be_visible()
    code = await host.locator("#room-code").get_attribute("data-code")
    sockets = []

    async def route(page_side) -> None:
        sockets.append(page_side.url)
        server_side = page_side.connect_to_server()
        if "node=" in page_side.url:
            return  # redirected: the node serving the room (everything passes)
        page_side.on_message(lambda text: other_node(page_side, server_side, text))

    def other_node(page_side, server_side, text) -> None:
        message = json.loads(text)
        if message.get("type") != "join":
            server_side.send(text)  # hello, pings: as any node answers them
            return
        url = f"/ws?room={message['code']}&node=node2"
        page_side.send(
            json.dumps({"type": "redirect", "url": url, "node": "node2", "ref": message.get("ref")})
        )
        asyncio.ensure_future(page_side.close(code=4009, reason="redirect"))

    for device, label in ((PHONE_320, "320"), (PHONE, "390")):
        phone = await pages.open("/", device, f"phone-{label}", route_socket=route)
        await expect(phone.locator("#join-button")).to_be_enabled()
        await phone.fill("#code", code)
        await expect(phone.locator("#name")).to_be_visible()  # without pressing Join
        await screenshot(phone, f"rejoin-name-box-after-redirect-{label}")
        await phone.fill("#name", f"Phone{label}")
        await phone.click("#join-button")
        await expect(phone.get_by_text("You're in!")).to_be_visible()
    assert any("node=node2" in url for url in sockets), sockets
    assert pages.errors == []


async def test_the_projector_counts_the_players_on_their_way_back_after_a_restart(pages, live_server):
    """After a server restart the open question waits for its players (``--rejoin-grace-s``).
    The projector, back first, counts them from the room's state: "0 of 2 answered", not
    "0 of 0" until the phones are back, and a phone coming back does not lower it."""
    lines = {name: Line() for name in ("ann", "ben")}
    host, phones = await a_question_open(pages, lines)
    await expect(host.locator("#q-progress")).to_have_text("0 of 2 answered")

    for line in lines.values():
        line.cut = True  # the phones are out of signal while the server restarts
    await live_server.restart()
    await host.reload()  # the teacher reloads the projector's page while the phones are away
    await expect(host.locator("#status")).to_be_hidden()  # back in its room
    await expect(host.locator("#q-progress")).to_have_text("0 of 2 answered")
    await screenshot(host, "rejoin-projector-counts-away-1920")

    lines["ann"].cut = False
    await lines["ann"].drop()  # Ann's phone finds signal: a new socket, through to the server
    await expect(phones["ann"].locator("#q-choices button").first).to_be_enabled()
    await expect(host.locator("#q-progress")).to_have_text("0 of 2 answered")  # back: not lowered
    await phones["ann"].locator("#q-choices button").first.tap()
    await expect(host.locator("#q-progress")).to_have_text("1 of 2 answered")
    assert pages.errors == []
