"""Screen readers and keyboards, in Chromium (issue 17).

* axe-core (vendored in tests/vendor/axe-core, MPL 2.0; never served to users)
  checks every host and player screen of a game of every question type and
  finds no serious or critical violation: setup, lobby, and for each type the
  get-ready step, the open question, a player's answered state, the reveal; the
  leaderboard, the podium and the players' own results; and the screens of
  trouble (a refused name, the kick dialog, kicked, the offline banner).
* Every answer colour holds its text at 4.5:1 or better on the phones, open,
  not open yet (get ready: drawn darker, flat and dashed, visibly shut) and
  not chosen once an answer is given (disabled buttons are not exempted here).
* That game is played with the keyboard only, on the host page and on the
  player's: Tab to a control (its focus must be visible), Enter or Space to
  press it, arrows for radios, sliders.
* The aria-live regions say a new question, that time is running out, and the
  results.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import aiohttp

from tests import test_browser
from tests.browser import LAPTOP, PHONE, screenshot
from tests.test_browser import BIG_SCREEN, PHONE_320, expect
from tests.test_host_screen import AA, CONTRASTS

# The browser tests' fixtures: a live server on the system clock, Chromium, pages.
live_server = test_browser.live_server  # browser and pages: tests/browser.py, for every test

# The every-type sample with time to spare: axe checks three pages at every step, and a
# busy machine must not see a question close before the keyboard gets to it.
EVERY_TYPE = json.loads(
    (Path(__file__).resolve().parents[1] / "quiz_actors/samples/every-type.json").read_text()
)
SLOW_EVERY_TYPE = {
    **EVERY_TYPE,
    "title": "Every kind, slowly",
    "get_ready_s": 6,  # each question's get-ready step is checked too
    "questions": [{**q, "time_limit_s": 240} for q in EVERY_TYPE["questions"]],
}
# The contrast of every text, disabled controls included: shut answers must be readable.
WITH_DISABLED = CONTRASTS.replace('el.closest("button:disabled, [hidden]', 'el.closest("[hidden]')
assert WITH_DISABLED != CONTRASTS


async def upload(live_server, quiz: dict) -> str:
    async with aiohttp.ClientSession() as http:
        async with http.post(live_server.base_url + "/api/quizzes", data=json.dumps(quiz)) as r:
            assert r.status == 201, await r.text()
            return str((await r.json())["quiz_id"])


AXE = (Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js").read_text("utf-8")
TAB_LIMIT = 60  # presses of Tab to reach any control: the pages have far fewer


async def axe_problems(page, label: str) -> list[str]:
    """The serious and critical axe violations of what the page shows now."""
    if not await page.evaluate("typeof window.axe !== 'undefined'"):
        # Evaluated through the DevTools protocol: the page's CSP does not apply to it.
        await page.evaluate(AXE + "\n;0")
    result = await page.evaluate(
        """async () => {
            const r = await axe.run(document, {resultTypes: ["violations"]});
            return r.violations.filter(v => v.impact === "serious" || v.impact === "critical")
              .map(v => `${v.id} (${v.impact}): ${v.nodes.map(n => n.target.join(" ")).join(", ")}`);
        }"""
    )
    return [f"{label}: {problem}" for problem in result]


async def poor_contrast(page, label: str) -> list[str]:
    """Texts under AA contrast on the page now, answer buttons open or not."""
    found = await page.evaluate(WITH_DISABLED)
    assert len(found) >= 3, f"{label}: too few texts found to check: {found}"
    return [f"{label}: {f['text']!r} ({f['where']}) at {f['ratio']:.2f}:1" for f in found if f["ratio"] < AA]


async def focused_matches(page, selector: str, text: str | None) -> bool:
    """Whether the focused element matches ``selector`` and holds ``text`` (or its order item does)."""
    return bool(
        await page.evaluate(
            """([s, text]) => {
                const e = document.activeElement;
                if (!e || !e.matches(s)) return false;
                return text === null || (e.closest(".order-item") || e).textContent.includes(text);
            }""",
            [selector, text],
        )
    )


async def assert_focus_visible(page) -> None:
    """The focused control is drawn with an outline or a ring."""
    style = await page.evaluate(
        """() => {
            const s = getComputedStyle(document.activeElement);
            return {outline: s.outlineStyle, width: parseFloat(s.outlineWidth), shadow: s.boxShadow};
        }"""
    )
    assert (style["outline"] != "none" and style["width"] > 0) or style["shadow"] != "none", style


async def tab_to(page, selector: str, text: str | None = None) -> None:
    """Press Tab until ``selector`` (holding ``text``) has the focus (a bounded number of times)."""
    for _ in range(TAB_LIMIT):
        if await focused_matches(page, selector, text):
            await assert_focus_visible(page)
            return
        await page.keyboard.press("Tab")
    raise AssertionError(f"{selector} {text or ''} cannot be reached with Tab")


async def press(page, selector: str, key: str = "Enter", text: str | None = None) -> None:
    await tab_to(page, selector, text)
    await page.keyboard.press(key)


async def type_into(page, selector: str, text: str) -> None:
    await tab_to(page, selector)
    await page.keyboard.press("Control+A")
    await page.keyboard.type(text)


async def test_a_game_of_every_type_by_keyboard_only_with_no_serious_axe_violation(pages, live_server):
    await upload(live_server, SLOW_EVERY_TYPE)
    problems: list[str] = []
    host = await pages.open("/host", BIG_SCREEN, "host")
    ann = await pages.open("/", PHONE_320, "ann")
    ben = await pages.open("/", PHONE, "ben")

    async def check(label: str, on=None) -> None:
        for page, who in on or ((host, "host"), (ann, "ann"), (ben, "ben")):
            problems.extend(await axe_problems(page, f"{label} {who}"))
            if page is not host:
                problems.extend(await poor_contrast(page, f"{label} {who}"))
            await screenshot(page, f"a11y-{label}-{who}")

    async def answered(label: str) -> None:
        """Ann has answered, Ben not yet: her screen while she waits."""
        await expect(ann.locator("#q-feedback")).to_have_text(re.compile("locked in|Sending", re.I))
        await check(f"{label}-answered", on=((ann, "ann"),))

    # Setup, on the host: choose the quiz with the arrow keys, type a name, press Enter.
    await expect(host.locator("#quiz-list input[type=radio]").first).to_be_visible()
    await expect(ann.locator("#join-button")).to_be_enabled()
    await check("0-setup")
    await tab_to(host, "#quiz-list input[type=radio]")
    for _ in range(10):
        label = host.locator("#quiz-list label:has(input:focus)")
        if "Every kind, slowly" in await label.inner_text():
            break
        await host.keyboard.press("ArrowDown")
    await host.keyboard.press("Space")
    await expect(host.locator("#quiz-list label:has(input:checked)")).to_contain_text("Every kind, slowly")
    await type_into(host, "#host-name", "Ms Host")
    await host.keyboard.press("Enter")
    await expect(host.locator("#room-code")).to_be_visible()
    code = await host.locator("#room-code").get_attribute("data-code")

    for page, name in ((ann, "Ann"), (ben, "Ben")):
        await type_into(page, "#code", code)
        await type_into(page, "#name", name)
        await page.keyboard.press("Enter")
        await expect(page.locator("#screen-lobby")).to_be_visible()
    await expect(host.locator("#player-count")).to_have_text("2 players")
    await check("1-lobby")
    await press(host, "#start")

    async def shown(number: int, label: str) -> None:
        for page in (host, ann, ben):
            await expect(page.locator("#q-number")).to_have_text(f"Question {number} of 7")
            q_text = await page.locator("#q-text").inner_text()
            await expect(page.locator("#announce-polite")).to_have_text(f"Question {number} of 7: {q_text}")
        # Get ready: the host shows the question alone, the phones its answers shut.
        await expect(host.locator("#q-getready")).to_be_visible()
        for page in (ann, ben):
            await expect(page.locator("#q-choices")).to_have_class(re.compile(r"\bshut\b"))
        await check(f"{label}-get-ready")
        # Then the answers open by themselves.
        await expect(host.locator("#q-getready")).to_be_hidden()
        for page in (ann, ben):
            await expect(page.locator("#q-choices")).not_to_have_class(re.compile(r"\bshut\b"))
        await check(label)

    async def revealed(label: str) -> None:
        for page in (ann, ben):
            await expect(page.locator("#screen-result")).to_be_visible()
            await expect(page.locator("#announce-polite")).not_to_have_text("")
        await expect(host.locator("#screen-reveal")).to_be_visible()
        await expect(host.locator("#announce-polite")).to_contain_text("closed")
        await check(f"{label}-reveal")

    boards_checked: list[str] = []

    async def next_step() -> None:
        # The reveal, then the leaderboard as a step of its own, both by keyboard.
        await press(host, "#show-leaderboard")
        await expect(host.locator("#screen-leaderboard")).to_be_visible()
        await expect(host.locator("#announce-polite")).not_to_have_text("")
        if not boards_checked:  # the same screen each time: axe once is enough
            boards_checked.append("leaderboard")
            await check("1-leaderboard")
        await press(host, "#next")

    # 1. choice: Tab to a tile, Enter.
    await shown(1, "2-choice")
    await press(ann, "#q-choices button", "Enter", "Mars")
    await answered("2-choice")
    await press(ben, "#q-choices button", "Space", "Venus")
    await revealed("2-choice")
    await expect(ann.locator("#r-verdict")).to_have_text("Correct!")
    await expect(ann.locator("#announce-polite")).to_contain_text("Correct!")

    # 2. multi: Space ticks, Enter on Submit.
    await next_step()
    await shown(2, "3-multi")
    for name in ("Dolphin", "Bat"):
        await press(ann, "#q-choices .choice", "Space", name)
    await expect(ann.locator("#q-choices .choice[aria-pressed=true]")).to_have_count(2)
    await press(ann, "#q-choices .submit")
    await answered("3-multi")
    await press(ben, "#q-choices .choice", "Space", "Dolphin")
    await press(ben, "#q-choices .submit")
    await revealed("3-multi")

    # 3. true_false.
    await next_step()
    await shown(3, "4-true-false")
    await press(ann, "#q-choices button", "Enter", "True")
    await answered("4-true-false")
    await press(ben, "#q-choices button", "Enter", "False")
    await revealed("4-true-false")

    # 4. type_answer: the box has the focus; type and Enter.
    await next_step()
    await shown(4, "5-type-answer")
    await type_into(ann, "#q-choices input", "Madrid")
    await ann.keyboard.press("Enter")
    await answered("5-type-answer")
    await type_into(ben, "#q-choices input", "Barcelona")
    await ben.keyboard.press("Enter")
    await revealed("5-type-answer")

    # 5. slider: arrow keys, then Submit.
    await next_step()
    await shown(5, "6-slider")
    await tab_to(ann, "#q-choices input[type=range]")
    await ann.keyboard.press("ArrowRight")
    await expect(ann.locator(".slider-value")).to_have_text("105")
    await ann.keyboard.press("ArrowLeft")
    await press(ann, "#q-choices .submit")
    await answered("6-slider")
    await press(ben, "#q-choices .nudge[aria-label]")
    await press(ben, "#q-choices .submit")
    await revealed("6-slider")

    # 6. order: Enter on "up" three times moves Atom to the top.
    await next_step()
    await shown(6, "7-order")
    await tab_to(ann, ".order-item .up", "Atom")
    for _ in range(3):
        await ann.keyboard.press("Enter")
    await expect(ann.locator(".order-item .choice-text")).to_have_text(["Atom", "Cell", "Mouse", "Elephant"])
    await press(ann, "#q-choices .submit")
    await answered("7-order")
    await press(ben, "#q-choices .submit")
    await revealed("7-order")

    # 7. poll.
    await next_step()
    await shown(7, "8-poll")
    await press(ann, "#q-choices button", "Enter", "Typing")
    await answered("8-poll")
    await press(ben, "#q-choices button", "Enter", "Sliding")
    await revealed("8-poll")

    await next_step()
    await expect(host.locator("#podium .p1")).to_contain_text("Ann")
    await expect(ann.locator("#e-rank")).to_have_text("You finished 1st")
    await expect(ann.locator("#announce-polite")).to_contain_text("You finished 1st")
    await expect(host.locator("#announce-polite")).to_contain_text("1st: Ann")
    for page in (ann, ben):  # the players' own answers under the podium, loaded
        await expect(page.locator("#e-mine")).to_contain_text("Red Planet")
    await check("9-podium")
    assert problems == [], "\n".join(problems)
    assert pages.errors == []


ONE_QUESTION = {
    "title": "Announcements",
    "questions": [
        {"text": "Which is a prime number?", "choices": ["4", "7"], "correct": [1], "time_limit_s": 7},
    ],
}


async def test_screen_readers_hear_the_question_time_running_out_and_the_result(pages, live_server):
    await upload(live_server, ONE_QUESTION)
    host = await pages.open("/host", LAPTOP, "host")
    await host.get_by_label("Announcements").check()
    await host.click("#create-button")
    await expect(host.locator("#room-code")).to_be_visible()
    code = await host.locator("#room-code").get_attribute("data-code")
    ann = await pages.open("/", PHONE, "ann")
    await ann.fill("#code", code)
    await ann.fill("#name", "Ann")
    await expect(ann.locator("#join-button")).to_be_enabled()
    await ann.click("#join-button")
    await expect(host.locator("#player-count")).to_have_text("1 player")
    for page in (host, ann):
        live = page.locator("[aria-live]")
        await expect(live).to_have_count(2)
        await expect(page.locator("#announce-polite")).to_have_attribute("aria-live", "polite")
        await expect(page.locator("#announce-assertive")).to_have_attribute("aria-live", "assertive")
    await host.click("#start")
    for page in (host, ann):
        await expect(page.locator("#announce-polite")).to_have_text(
            "Question 1 of 1: Which is a prime number?"
        )
    # Nobody answers: at 5 seconds left both pages say so, urgently.
    for page in (host, ann):
        await expect(page.locator("#announce-assertive")).to_have_text("5 seconds left")
    await expect(ann.locator("#announce-polite")).to_have_text(
        "No answer. +0 points. Right answer: 7. You are 1st of 1.", timeout=15_000
    )
    await expect(host.locator("#announce-polite")).to_have_text("Question 1 closed. Right answer: 7.")
    # Who leads is said on the leaderboard step; nobody scored, so it says that.
    await host.click("#show-leaderboard")
    await expect(host.locator("#announce-polite")).to_have_text("Nobody has scored yet.")
    await screenshot(ann, "a11y-announce-result-ann")
    assert pages.errors == []


async def test_the_screens_of_trouble_have_no_serious_axe_violation(pages, live_server):
    """A refused name, the kick dialog, a kicked player, a phone offline."""
    problems: list[str] = []

    async def check(page, label: str) -> None:
        await screenshot(page, f"a11y-trouble-{label}")
        problems.extend(await axe_problems(page, label))
        problems.extend(await poor_contrast(page, label))

    host = await pages.open("/host", LAPTOP, "host")
    await host.get_by_label("Quick demo").check()
    await host.click("#create-button")
    await expect(host.locator("#room-code")).to_be_visible()
    code = await host.locator("#room-code").get_attribute("data-code")

    # Ann's socket can be cut, and kept down, at will.
    cut = {"down": False, "socket": None}

    async def route(socket):
        if cut["down"]:
            await socket.close()
            return
        cut["socket"] = socket
        socket.connect_to_server()

    ann = await pages.open("/", PHONE_320, "ann")
    # Every socket of the page from now on, the reconnections too (their address has a query).
    await ann.route_web_socket(re.compile(r"/ws(\?.*)?$"), route)
    await ann.reload()
    await ann.fill("#code", code)
    await ann.fill("#name", "Ann")
    await ann.click("#join-button")
    await expect(ann.locator("#screen-lobby")).to_be_visible()

    # A name already in the room, told in the form.
    bob = await pages.open("/", PHONE, "bob")
    await bob.fill("#code", code)
    await bob.fill("#name", "ANN")
    await bob.click("#join-button")
    await expect(bob.locator("#join-error")).to_contain_text("Ann")
    await check(bob, "join-error")
    # A code with no room behind it, said before any name is asked for.
    cy = await pages.open("/", PHONE_320, "cy")
    await expect(cy.locator("#join-button")).to_be_enabled()
    await cy.fill("#code", "000000" if code != "000000" else "000001")
    await expect(cy.locator("#join-error")).not_to_have_text("")
    await expect(cy.locator("#name")).to_be_hidden()
    await check(cy, "no-such-room")

    await bob.fill("#name", "Bob")
    await bob.click("#join-button")
    await expect(host.locator("#player-count")).to_have_text("2 players")
    await host.locator("#players li", has_text="Bob").get_by_role("button").click()
    await expect(host.locator("#kick-dialog")).to_be_visible()
    await check(host, "kick-dialog")
    await host.click("#kick-confirm")
    await expect(bob.locator("#screen-gone")).to_be_visible()
    await check(bob, "kicked")

    # Ann's phone loses its connection: the banner says so.
    cut["down"] = True
    await cut["socket"].close()
    await expect(ann.locator("#status")).to_be_visible()
    await expect(ann.locator("#status")).to_contain_text(re.compile("reconnecting", re.I))
    await check(ann, "offline")
    await expect(ann.locator("#status")).to_be_visible()  # still down while it was checked
    cut["down"] = False
    await expect(ann.locator("#status")).to_be_hidden(timeout=30_000)
    assert problems == [], "\n".join(problems)
    assert pages.errors == []
