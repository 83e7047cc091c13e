"""Names on the pages, in Chromium (issue 17): a room that gives out friendly names
never asks a player for one, and the host chooses the name rules when creating the
room and changes them in the lobby (docs/protocol.md, "Names")."""

from __future__ import annotations

import re

from quiz_actors.domain.friendly_names import ADJECTIVES, ANIMALS
from tests import test_browser
from tests.browser import LAPTOP, PHONE, screenshot
from tests.test_accessibility_browser import axe_problems, tab_to
from tests.test_browser import PHONE_320, expect

live_server = test_browser.live_server  # browser and pages: tests/browser.py, for every test

FRIENDLY = re.compile(rf"^({'|'.join(ADJECTIVES)}) ({'|'.join(ANIMALS)})$")
QUIZ = "Quick demo"


async def open_room(host, *, friendly: bool, word_filter: bool = True) -> str:
    await host.get_by_label(re.compile(QUIZ)).check()
    await expect(host.locator("#word-filter")).to_be_checked()  # on for a new room
    await expect(host.locator("#friendly-names")).not_to_be_checked()
    await host.locator("#word-filter").set_checked(word_filter)
    await host.locator("#friendly-names").set_checked(friendly)
    await host.click("#create-button")
    await expect(host.locator("#room-code")).to_be_visible()
    return str(await host.locator("#room-code").get_attribute("data-code"))


async def test_a_room_with_friendly_names_lets_players_in_without_asking_and_says_the_name(pages):
    host = await pages.open("/host", LAPTOP, "host")
    code = await open_room(host, friendly=True)
    await expect(host.locator("#lobby-friendly-names")).to_be_checked()
    given = []
    for device, label in ((PHONE_320, "320"), (PHONE, "390")):
        phone = await pages.open("/", device, f"phone-{label}")
        await expect(phone.locator("#join-button")).to_be_enabled()
        await expect(phone.locator("#name")).to_be_hidden()
        await tab_to(phone, "#code")
        await phone.keyboard.type(code)
        # The whole code is all it takes: the room gives the name.
        await expect(phone.locator("#screen-lobby")).to_be_visible()
        line = phone.locator("#lobby-name")
        await expect(line).to_have_text(re.compile(r"^Your name in this game: "))
        name = (await line.inner_text()).removeprefix("Your name in this game: ")
        assert FRIENDLY.match(name), name
        await expect(phone.locator("#me")).to_have_text(name)
        said = f"You're in! Your name in this game: {name}."
        await expect(phone.locator("#announce-polite")).to_have_text(said)
        await screenshot(phone, f"names-friendly-lobby-{label}")
        assert await axe_problems(phone, f"friendly lobby {label}") == []
        given.append(name)
    assert given[0] != given[1]
    await expect(host.locator("#players .name")).to_have_text(given)
    # In German (the browser's language), the same line from the German catalog.
    lena = await pages.open(f"/?code={code}", {**PHONE, "locale": "de-DE"}, "lena")
    await expect(lena.locator("#lobby-name")).to_have_text(
        re.compile(r"^Dein Name in diesem Spiel: \w+ \w+$")
    )
    await screenshot(lena, "names-friendly-lobby-de-390")
    # After a reload the page is back in the room with the same name, and says it again.
    await phone.reload()
    await expect(phone.locator("#lobby-name")).to_have_text(f"Your name in this game: {given[1]}")
    assert pages.errors == []


async def test_the_host_changes_the_name_rules_in_the_lobby(pages):
    host = await pages.open("/host", LAPTOP, "host")
    code = await open_room(host, friendly=False)
    rules = host.locator("#name-rules")
    await expect(rules).to_be_visible()
    await expect(host.locator("#lobby-word-filter")).to_be_checked()
    await expect(host.locator("#lobby-friendly-names")).not_to_be_checked()
    await screenshot(host, "names-host-lobby-rules")
    assert await axe_problems(host, "host lobby") == []

    # Players choose their names: the name box shows once the code is in, and has the focus.
    ann = await pages.open("/", PHONE_320, "ann")
    await expect(ann.locator("#join-button")).to_be_enabled()
    await ann.fill("#code", code)
    await expect(ann.locator("#name")).to_be_visible()
    await expect(ann.locator("#name")).to_be_focused()
    await screenshot(ann, "names-join-asks-a-name-320")
    assert await axe_problems(ann, "join with a name") == []
    await ann.keyboard.type("sh1t")
    await ann.keyboard.press("Enter")
    await expect(ann.locator("#join-error")).to_have_text(re.compile("not allow", re.I))
    await ann.fill("#name", "Ann")
    await ann.keyboard.press("Enter")
    await expect(ann.locator("#screen-lobby")).to_be_visible()
    await expect(ann.locator("#lobby-name")).to_be_hidden()

    # The host switches the word filter off, by keyboard; the room says so to every page.
    await tab_to(host, "#lobby-word-filter")
    await host.keyboard.press("Space")
    await expect(host.locator("#lobby-word-filter")).not_to_be_checked()
    ben = await pages.open("/", PHONE, "ben")
    await expect(ben.locator("#join-button")).to_be_enabled()
    await ben.fill("#code", code)
    await ben.fill("#name", "sh1t")
    await ben.click("#join-button")
    await expect(ben.locator("#screen-lobby")).to_be_visible()

    # ...and friendly names on: the next player is let straight in with a given name.
    await host.locator("#lobby-friendly-names").check()
    await expect(host.locator("#lobby-friendly-names")).to_be_checked()
    await expect(ann.locator("#lobby-name")).to_have_text("Your name in this game: Ann")
    cara = await pages.open(f"/?code={code}", PHONE, "cara")
    await expect(cara.locator("#screen-lobby")).to_be_visible()
    await expect(cara.locator("#lobby-name")).to_have_text(re.compile(r"^Your name in this game: \w+ \w+$"))
    await expect(host.locator("#player-count")).to_have_text("3 players")
    # A reload of the host page shows the rules the room has, not the page's defaults.
    await host.reload()
    await expect(host.locator("#lobby-friendly-names")).to_be_checked()
    await expect(host.locator("#lobby-word-filter")).not_to_be_checked()
    await screenshot(host, "names-host-lobby-rules-changed")
    assert pages.errors == []
