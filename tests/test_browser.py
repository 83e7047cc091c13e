"""The web client in a real browser (issue: the web client).

A real server (SQLite store, the system clock) and headless Chromium: the host
page on a laptop-sized screen, the player pages on phone-sized ones, each in
its own browser context, so each is its own user with its own localStorage.
The tests only look at what the pages show; they wait for text to appear,
never for a fixed time.
"""

from __future__ import annotations

import asyncio
import json
import re

import pytest

from quiz_actors.clock import SystemClock
from tests.browser import (  # expect, WAIT_MS: other tests import them from here
    LAPTOP,
    PHONE,
    WAIT_MS,
    answers_open_at_once,
    expect,
    screenshot,
)

# Question 1 gives the reloaded player time to come back before it closes (it closes
# as soon as both have answered); question 2 is left to run out its 5 seconds.
QUIZ = {
    "title": "Browser quiz",
    "questions": [
        {
            "text": "What colour is a clear daytime sky?",
            "choices": ["Green", "Blue", "Red", "Yellow"],
            "correct": [1],
            "time_limit_s": 20,
            "points": "double",
        },
        {
            "text": "How many legs does a spider have?",
            "choices": ["Six", "Eight"],
            "correct": [1],
            "time_limit_s": 5,
        },
    ],
}


@pytest.fixture
async def live_server(tmp_path):
    async with answers_open_at_once(tmp_path) as running:
        yield running


# ---------------------------------------------------------------- page steps


async def create_room(host, quiz_title: str, name: str = "Ms Host") -> str:
    await host.get_by_label(re.compile(re.escape(quiz_title))).check()
    await host.fill("#host-name", name)
    await host.click("#create-button")
    code = host.locator("#room-code")
    await expect(code).to_be_visible()
    return await code.get_attribute("data-code")


async def join(player, code: str, name: str) -> None:
    await player.fill("#code", code)
    await player.fill("#name", name)
    await expect(player.locator("#join-button")).to_be_enabled()
    await player.click("#join-button")


async def next_question(host) -> None:
    """The host's two steps after a reveal: the leaderboard, then the next question (or the podium)."""
    await host.click("#show-leaderboard")
    await expect(host.locator("#screen-leaderboard")).to_be_visible()
    await host.click("#next")


async def choose(player, text: str) -> None:
    await player.locator("#q-choices button", has_text=text).click()


def points_in(text: str) -> int:
    return int(re.search(r"(\d+) points?", text).group(1))


# ---------------------------------------------------------------- tests


async def test_a_host_and_two_players_play_to_the_podium(pages):
    host = await pages.open("/host", LAPTOP, "host")

    # The host uploads the quiz through the page; it is then the one selected.
    await host.set_input_files(
        "#upload",
        files=[
            {
                "name": "browser-quiz.json",
                "mimeType": "application/json",
                "buffer": json.dumps(QUIZ).encode(),
            }
        ],
    )
    await expect(host.locator("#upload-result")).to_have_text("Uploaded “Browser quiz” (2 questions).")
    await expect(host.get_by_label(re.compile("Browser quiz"))).to_be_checked()
    await host.fill("#host-name", "Ms Host")
    await host.click("#create-button")
    await expect(host.locator("#room-code")).to_be_visible()
    code = await host.locator("#room-code").get_attribute("data-code")
    assert re.fullmatch(r"\d{6}", code)
    await expect(host.locator("#room-code")).to_have_text(f"{code[:3]} {code[3:]}")
    await expect(host.locator("#player-count")).to_have_text("Waiting for players…")

    ann = await pages.open("/", PHONE, "ann")
    await join(ann, code, "Ann")
    await expect(ann.get_by_text("You're in!")).to_be_visible()
    await expect(ann.locator("#lobby-title")).to_have_text("Browser quiz")
    await expect(ann.locator("#lobby-count")).to_have_text("1 player in the game")
    ben = await pages.open("/", PHONE, "ben")
    await join(ben, code, "Ben")
    await expect(ben.get_by_text("You're in!")).to_be_visible()
    # Ann's lobby grows as Ben arrives; the host sees both, live.
    await expect(ann.locator("#lobby-count")).to_have_text("2 players in the game")
    await expect(host.locator("#player-count")).to_have_text("2 players")
    await expect(host.locator("#players li .name")).to_have_text(["Ann", "Ben"])

    # Question 1.
    await host.click("#start")
    question_1 = "What colour is a clear daytime sky?"
    for page in (host, ann, ben):
        await expect(page.locator("#q-text")).to_have_text(question_1)
        await expect(page.locator("#q-number")).to_have_text("Question 1 of 2")
    await expect(host.locator("#q-progress")).to_have_text("0 of 2 answered")
    await expect(ben.locator("#q-choices button")).to_have_count(4)
    await expect(ben.locator("#q-timer")).to_have_text(re.compile(r"^(20|1\d)$"))

    await choose(ben, "Blue")
    await expect(ben.locator("#q-feedback")).to_have_text("Answer locked in! Waiting for the others…")
    await expect(host.locator("#q-progress")).to_have_text("1 of 2 answered")

    # Ben's phone reloads the page in the middle of the question: it comes back
    # to the same question, knowing its answer is in.
    await ben.reload()
    await expect(ben.locator("#q-text")).to_have_text(question_1)
    await expect(ben.locator("#q-feedback")).to_have_text("Answer locked in! Waiting for the others…")
    await expect(ben.locator("#q-choices button.chosen")).to_have_text("◆Blue")  # the server said which
    await expect(ben.locator("#q-choices button").first).to_be_disabled()
    await expect(ben.locator("#status")).to_be_hidden()

    await choose(ann, "Green")  # wrong; now everyone has answered and the question closes
    await expect(ann.locator("#r-verdict")).to_have_text("Wrong answer")
    await expect(ann.locator("#r-points")).to_have_text("+0 points")
    await expect(ann.locator("#r-answer")).to_have_text("Right answer: Blue")
    await expect(ann.locator("#r-rank")).to_have_text("You are 2nd of 2")
    await expect(ben.locator("#r-verdict")).to_have_text("Correct!")
    await expect(ben.locator("#r-rank")).to_have_text("You are 1st of 2")
    ben_points = points_in(await ben.locator("#r-points").inner_text())
    assert 1000 < ben_points <= 2000  # a double-points question answered in time
    await expect(ben.locator("#my-score")).to_have_text(f"{ben_points} points")
    # The host sees how the answers went and the leaderboard.
    await expect(host.locator("#r-choices .correct")).to_contain_text("Blue")
    await expect(host.locator("#r-choices .correct")).to_contain_text("1 answer")
    await expect(host.locator("#r-choices .c0")).to_contain_text("1 answer")  # Green
    # Then, as a step of its own, the leaderboard: Ann has no points yet, so only Ben is on it.
    await host.click("#show-leaderboard")
    await expect(host.locator("#leaderboard li")).to_have_text(
        [re.compile(rf"1st\s*Ben\s*new\s*{ben_points}")]
    )
    await expect(host.locator("#next")).to_have_text("Next question")

    # Question 2: Ann answers, Ben lets the 5 seconds run out.
    await host.click("#next")
    for page in (host, ann, ben):
        await expect(page.locator("#q-text")).to_have_text("How many legs does a spider have?")
    await expect(ben.locator("#my-score")).to_have_text(f"{ben_points} points")  # carried on
    await choose(ann, "Eight")
    await expect(ann.locator("#q-feedback")).to_have_text("Answer locked in! Waiting for the others…")
    await expect(ben.locator("#q-timer")).to_have_text(re.compile(r"^[1-5]$"))
    await expect(ben.locator("#r-verdict")).to_have_text("No answer")
    await expect(ann.locator("#r-verdict")).to_have_text("Correct!")
    ann_points = points_in(await ann.locator("#r-points").inner_text())
    assert 500 <= ann_points <= 1000 < ben_points
    await expect(ann.locator("#r-rank")).to_have_text("You are 2nd of 2")
    await expect(ben.locator("#r-rank")).to_have_text("You are 1st of 2")
    await host.click("#show-leaderboard")
    await expect(host.locator("#next")).to_have_text("Show the podium")

    # The podium.
    await host.click("#next")
    await expect(host.locator("#podium .p1")).to_contain_text("Ben")
    await expect(host.locator("#podium .p1")).to_contain_text(f"{ben_points} points")
    await expect(host.locator("#podium .p2")).to_contain_text("Ann")
    await expect(host.locator("#podium .p2")).to_contain_text(f"{ann_points} points")
    await expect(ben.locator("#e-rank")).to_have_text("You finished 1st")
    await expect(ben.locator("#e-score")).to_have_text(f"{ben_points} points")
    await expect(ann.locator("#e-rank")).to_have_text("You finished 2nd")
    await expect(ann.locator("#e-score")).to_have_text(f"{ann_points} points")
    await expect(ann.locator("#e-podium li")).to_have_text(
        [
            re.compile(rf"1st\s*Ben\s*{ben_points}"),
            re.compile(rf"2nd\s*Ann\s*{ann_points}"),
        ]
    )

    for page, name in ((host, "host"), (ann, "player-ann"), (ben, "player-ben")):
        await screenshot(page, f"podium-{name}")
    assert pages.errors == []


async def test_the_host_runs_the_lobby_and_players_read_errors_in_plain_words(pages):
    host = await pages.open("/host", LAPTOP, "host")
    code = await create_room(host, "Quick demo")

    cy = await pages.open("/", PHONE, "cy")
    # A wrong code is told as soon as it is typed, before any name is asked for.
    await expect(cy.locator("#join-button")).to_be_enabled()
    await cy.fill("#code", "000000" if code != "000000" else "111111")
    await expect(cy.locator("#name")).to_be_hidden()
    await expect(cy.locator("#join-error")).to_have_text(
        "No game has that code. Check the number on the big screen."
    )
    await join(cy, code, "Cy")
    await expect(cy.get_by_text("You're in!")).to_be_visible()
    await expect(host.locator("#players .name")).to_have_text(["Cy"])

    # The host removes Cy, who is told so, and cannot come back.
    await host.get_by_role("button", name="Remove Cy").click()
    await host.locator("#kick-dialog").get_by_role("button", name="Remove Cy").click()
    await expect(cy.locator("#g-title")).to_have_text("Removed from the game")
    await expect(cy.locator("#g-text")).to_have_text("The host removed you from this game.")
    await expect(host.locator("#players li")).to_have_count(0)
    await cy.click("#g-action")
    await join(cy, code, "Cy")
    await expect(cy.locator("#join-error")).to_have_text("The host removed you from this game.")

    # A locked room turns newcomers away until the host unlocks it.
    await host.click("#lock")
    await expect(host.locator("#locked-note")).to_have_text("Locked: nobody new can join.")
    await expect(host.locator("#lock")).to_have_text("Unlock the room")
    dee = await pages.open("/", PHONE, "dee")
    await expect(dee.locator("#join-button")).to_be_enabled()
    await dee.fill("#code", code)
    await expect(dee.locator("#join-error")).to_have_text(
        "The host has locked this game: no new players can join."
    )
    await host.click("#lock")
    await expect(host.locator("#locked-note")).to_be_hidden()
    await dee.click("#join-button")  # the room is asked again, and now wants her name
    await expect(dee.locator("#name")).to_be_focused()
    await dee.keyboard.type("Dee")
    await dee.click("#join-button")
    await expect(dee.get_by_text("You're in!")).to_be_visible()

    eve = await pages.open("/", PHONE, "eve")
    await join(eve, code, "DEE")
    await expect(eve.locator("#join-error")).to_have_text(
        "“Dee” is already in this game, and that name looks the same. Pick another one."
    )

    # The host's page is refreshed: it is back in its room, with its players, and runs it.
    await host.reload()
    await expect(host.locator("#room-code")).to_have_attribute("data-code", code)
    await expect(host.locator("#players .name")).to_have_text(["Dee"])
    await host.click("#start")
    await expect(dee.locator("#q-number")).to_have_text("Question 1 of 3")
    await expect(host.locator("#q-number")).to_have_text("Question 1 of 3")
    assert pages.errors == []


LONG_QUIZ = {
    "title": "Patient quiz",
    "questions": [
        {"text": "Which is a fruit?", "choices": ["Apple", "Carrot"], "correct": [0], "time_limit_s": 120},
        {"text": "Which is a vegetable?", "choices": ["Pear", "Leek"], "correct": [1], "time_limit_s": 120},
    ],
}


async def upload(http_url: str, quiz: dict) -> str:
    import aiohttp

    async with aiohttp.ClientSession() as http, http.post(http_url + "/api/quizzes", json=quiz) as response:
        assert response.status == 201, await response.text()
        return (await response.json())["quiz_id"]


async def a_question_ann_has_answered(pages, live_server):
    """A host and two players in LONG_QUIZ's first question; Ann has answered, Ben not."""
    await upload(live_server.base_url, LONG_QUIZ)
    host = await pages.open("/host", LAPTOP, "host")
    code = await create_room(host, "Patient quiz")
    ann = await pages.open("/", PHONE, "ann")
    await join(ann, code, "Ann")
    ben = await pages.open("/", PHONE, "ben")
    await join(ben, code, "Ben")
    await expect(host.locator("#player-count")).to_have_text("2 players")
    await host.click("#start")
    await choose(ann, "Apple")
    await expect(ann.locator("#q-feedback")).to_have_text("Answer locked in! Waiting for the others…")
    return host, ann, ben


async def test_pages_reconnect_by_themselves_after_the_connection_drops(pages, live_server):
    host, ann, ben = await a_question_ann_has_answered(pages, live_server)
    await expect(host.locator("#q-progress")).to_have_text("1 of 2 answered")

    # The server goes away: every page says it is reconnecting, and keeps trying.
    await live_server.stop()
    for page in (host, ann, ben):
        await expect(page.locator("#status")).to_have_text(re.compile(r"^No connection — reconnecting…"))
        await expect(page.locator("#status")).to_be_visible()
    await expect(ann.locator("#status")).to_have_text("No connection — reconnecting… (attempt 2)")

    # It comes back (same port, same store): each page picks up where the game is.
    live_server.clock = SystemClock()
    await live_server.start()
    for page in (host, ann, ben):
        await expect(page.locator("#status")).to_be_hidden()
        await expect(page.locator("#q-text")).to_have_text("Which is a fruit?")
    await expect(ann.locator("#q-feedback")).to_have_text("Answer locked in! Waiting for the others…")
    await expect(ben.locator("#q-choices button").first).to_be_enabled()
    await choose(ben, "Carrot")
    await expect(ann.locator("#r-verdict")).to_have_text("Correct!")
    await expect(ben.locator("#r-verdict")).to_have_text("Wrong answer")
    await expect(host.locator("#screen-reveal")).to_be_visible()
    assert pages.errors == []


# Records, in the page, every text the connection banner showed and every
# connection state the page went through.
WATCH_CONNECTION = """() => {
  window.bannerShown = [];
  window.connectionKinds = [];
  const banner = document.querySelector("#status");
  new MutationObserver(() => {
    if (!banner.hidden) window.bannerShown.push(banner.textContent);
  }).observe(banner, { attributes: true, childList: true, characterData: true, subtree: true });
  new MutationObserver(() => window.connectionKinds.push(document.body.dataset.connection)).observe(
    document.body, { attributes: true, attributeFilter: ["data-connection"] });
}"""


async def test_pages_reconnect_quietly_when_the_server_restarts(pages, live_server):
    """A drained server closes sockets with 1012: the pages come back without a word."""
    from quiz_actors.server.keys import DRAIN

    host, ann, ben = await a_question_ann_has_answered(pages, live_server)
    for page in (host, ann, ben):
        await page.evaluate(WATCH_CONNECTION)

    # What SIGTERM does after its grace period, then the server starts again.
    live_server.app[DRAIN].begin()
    await live_server.stop()
    live_server.clock = SystemClock()
    await live_server.start()

    for page in (host, ann, ben):
        await expect(page.locator("#q-text")).to_have_text("Which is a fruit?")
        await expect(page.locator("body")).to_have_attribute("data-connection", "connected")
    await expect(ann.locator("#q-feedback")).to_have_text("Answer locked in! Waiting for the others…")
    await choose(ben, "Carrot")
    await expect(ben.locator("#r-verdict")).to_have_text("Wrong answer")
    for page in (host, ann, ben):
        assert "restarting" in await page.evaluate("window.connectionKinds")
        assert await page.evaluate("window.bannerShown") == []
        await expect(page.locator("#status")).to_be_hidden()
    assert pages.errors == []


async def test_a_page_that_misses_a_room_change_asks_for_a_fresh_state(pages):
    host = await pages.open("/host", LAPTOP, "host")
    code = await create_room(host, "Quick demo")

    # Ann's socket loses the first member_joined on its way to her page.
    dropped: list[dict] = []
    sent_by_page: list[dict] = []
    lost = asyncio.Event()

    def route(socket):
        server = socket.connect_to_server()

        def to_page(frame):
            data = json.loads(frame)
            messages = data if isinstance(data, list) else [data]
            kept = []
            for message in messages:
                if message.get("type") == "member_joined" and not dropped:
                    dropped.append(message)
                    lost.set()
                else:
                    kept.append(message)
            if kept:
                socket.send(json.dumps(kept))

        def to_server(frame):
            sent_by_page.append(json.loads(frame))
            server.send(frame)

        server.on_message(to_page)
        socket.on_message(to_server)

    ann = await pages.open("/", PHONE, "ann", route_socket=route)
    await join(ann, code, "Ann")
    await expect(ann.locator("#lobby-count")).to_have_text("1 player in the game")
    ben = await pages.open("/", PHONE, "ben")
    await join(ben, code, "Ben")
    await asyncio.wait_for(lost.wait(), WAIT_MS / 1000)
    assert dropped[0]["member"]["name"] == "Ben"
    await expect(ann.locator("#lobby-count")).to_have_text("1 player in the game")  # she missed it
    assert not any(m["type"] == "resync" for m in sent_by_page)

    # The next change has a seq one too far: her page asks for the state and is right again.
    cy = await pages.open("/", PHONE, "cy")
    await join(cy, code, "Cy")
    await expect(ann.locator("#lobby-count")).to_have_text("3 players in the game")
    assert [m["type"] for m in sent_by_page].count("resync") == 1
    assert pages.errors == []


async def test_the_pages_and_their_files_are_served_from_the_package(live_server):
    """Needs no browser: every page, and every file a page or module names, is served."""
    import aiohttp

    base = live_server.base_url
    async with aiohttp.ClientSession() as http:

        async def get(path: str) -> tuple[int, str, str]:
            async with http.get(base + path) as response:
                return response.status, response.content_type, await response.text()

        wanted = {"/": "text/html", "/host": "text/html"}
        seen: set[str] = set()
        while wanted:
            path, kind = wanted.popitem()
            seen.add(path)
            status, content_type, text = await get(path)
            assert (status, content_type) == (200, kind), path
            for ref in re.findall(r'(?:src|href)="(/static/[^"]+)"|from "\./([^"]+)"', text):
                linked = ref[0] or f"/static/{ref[1]}"
                if linked not in seen:
                    wanted[linked] = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml"}[
                        linked[linked.rindex(".") :]
                    ]
        assert {
            "/static/player.js",
            "/static/host.js",
            "/static/connection.js",
            "/static/ui.js",
            "/static/app.css",
        } <= seen

        # The language catalogs i18n.js fetches (docs/i18n.md).
        for language in ("en", "de", "es"):
            status, content_type, text = await get(f"/static/i18n-{language}.json")
            assert (status, content_type) == (200, "application/json") and json.loads(text)["join.button"]
        async with http.get(base + "/") as response:
            assert "default-src 'self'" in response.headers["Content-Security-Policy"]
        for path in (
            "/static/missing.js",
            "/static/..%2Fpages.py",
            "/static/player.html",
            "/static/.hidden.js",
        ):
            assert (await get(path))[0] == 404, path


# ---------------------------------------------------------------- every question type

PHONE_320 = {"viewport": {"width": 320, "height": 640}, "is_mobile": True, "has_touch": True}
BIG_SCREEN = {"viewport": {"width": 1920, "height": 1080}}


async def shoot(pages_and_names, label: str) -> None:  # type: ignore[no-untyped-def]
    for page, name in pages_and_names:
        await screenshot(page, f"types-{label}-{name}")


async def test_the_every_type_sample_is_played_from_phones(pages):
    """Ann (a 320 px phone) answers everything right, Ben (390 px) everything wrong, by touch and keyboard."""
    host = await pages.open("/host", BIG_SCREEN, "host")
    code = await create_room(host, "Every kind of question")
    ann = await pages.open("/", PHONE_320, "ann")
    await join(ann, code, "Ann")
    ben = await pages.open("/", PHONE, "ben")
    await join(ben, code, "Ben")
    await expect(host.locator("#player-count")).to_have_text("2 players")
    everyone = ((host, "host-1920"), (ann, "ann-320"), (ben, "ben-390"))

    async def shown(number: int, text: str) -> None:
        for page in (host, ann, ben):
            await expect(page.locator("#q-text")).to_have_text(text)
            await expect(page.locator("#q-number")).to_have_text(f"Question {number} of 7")

    async def revealed(label: str, ann_verdict: str, ben_verdict: str, right_answer: str) -> None:
        await expect(ann.locator("#r-verdict")).to_have_text(ann_verdict)
        await expect(ben.locator("#r-verdict")).to_have_text(ben_verdict)
        for page in (ann, ben):
            await expect(page.locator("#r-answer")).to_have_text(right_answer)
        await expect(host.locator("#screen-reveal")).to_be_visible()
        await shoot(everyone, f"{label}-reveal")

    # 1. choice: a tap.
    await host.click("#start")
    await shown(1, "Which planet is known as the Red Planet?")
    await expect(host.locator("#q-choices .choice")).to_have_count(4)
    await shoot(everyone, "1-choice")
    await ann.locator("#q-choices button", has_text="Mars").tap()
    await ben.locator("#q-choices button", has_text="Venus").tap()
    await revealed("1-choice", "Correct!", "Wrong answer", "Right answer: Mars")
    await expect(host.locator("#r-choices .correct")).to_contain_text("Mars")

    # 2. multi: tick, then submit; Ben ticks only half of the answer.
    await next_question(host)
    await shown(2, "Which of these are mammals?")
    for page in (ann, ben):
        await expect(page.locator(".answer-hint")).to_have_text("Select all that apply, then submit")
        await expect(page.locator("#q-choices .submit")).to_be_disabled()
    await expect(host.locator("#q-choices .answer-hint")).to_have_text("Select all that apply")
    for name in ("Dolphin", "Bat"):
        await ann.locator("#q-choices .choice", has_text=name).tap()
    await expect(ann.locator("#q-choices .choice[aria-pressed=true]")).to_have_count(2)
    await shoot(everyone, "2-multi")
    await ann.locator("#q-choices .submit").tap()
    await ben.locator("#q-choices .choice", has_text="Dolphin").tap()
    await ben.locator("#q-choices .submit").tap()
    await revealed("2-multi", "Correct!", "Wrong answer", "Right answers: Dolphin and Bat")
    await expect(ben.locator("#r-mine")).to_have_text("Your answer: Dolphin")
    await expect(host.locator("#r-choices .correct")).to_have_count(2)
    await expect(host.locator("#r-choices .correct").first).to_contain_text("Dolphin")
    await expect(host.locator("#r-choices .correct").first).to_contain_text("2 players")

    # 3. true_false.
    await next_question(host)
    await shown(3, "Sound travels faster in water than in air.")
    await expect(ann.locator("#q-choices button")).to_have_text(["▲True", "◆False"])
    await ann.locator("#q-choices button", has_text="True").tap()
    await ben.locator("#q-choices button", has_text="False").tap()
    await revealed("3-true-false", "Correct!", "Wrong answer", "Right answer: True")

    # 4. type_answer: Ann types on the keyboard and sends with Enter.
    await next_question(host)
    await shown(4, "What is the capital of Spain?")
    await expect(host.locator("#q-choices")).to_contain_text("Type your answer on your phone")
    await expect(ann.locator("#q-choices input")).to_be_focused()
    await ann.keyboard.type("  MÁDRID ")
    await shoot(everyone, "4-type-answer")
    await ann.keyboard.press("Enter")
    await expect(ann.locator("#q-choices input")).to_be_disabled()
    await ben.locator("#q-choices input").fill("Barcelona")
    await ben.locator("#q-choices .submit").tap()
    await revealed("4-type-answer", "Correct!", "Wrong answer", "Accepted: Madrid")
    await expect(ann.locator("#r-mine")).to_have_text("Your answer: “MÁDRID”")
    await expect(ben.locator("#r-mine")).to_have_text("Your answer: “Barcelona”")
    await expect(host.locator("#r-choices .accepted")).to_have_text("✔ Madrid")
    await expect(host.locator("#r-choices .wrong-answers li")).to_have_text([re.compile(r"barcelona\s*× 1")])

    # 5. slider: Ann moves it with the arrow keys (and back), Ben with the + button.
    await next_question(host)
    await shown(5, "At what temperature (°C) does water boil at sea level?")
    await expect(ann.locator(".slider-value")).to_have_text("100")
    # The page opens the answers by its estimate of the server's clock, which can trail
    # the server by the socket's latency: keys pressed before that do nothing.
    await expect(ann.locator("#q-choices input[type=range]")).to_be_enabled()
    await ann.locator("#q-choices input[type=range]").focus()
    await ann.keyboard.press("ArrowRight")
    await expect(ann.locator(".slider-value")).to_have_text("105")
    await ann.keyboard.press("ArrowLeft")
    await expect(ann.locator(".slider-value")).to_have_text("100")
    for _ in range(6):
        await ben.locator("#q-choices .nudge", has_text="+").tap()
    await expect(ben.locator(".slider-value")).to_have_text("130")
    await shoot(everyone, "5-slider")
    await ann.locator("#q-choices .submit").tap()
    await expect(ann.locator("#q-feedback")).to_have_text("Answer locked in! Waiting for the others…")
    # A reload while the others answer: the slider comes back locked, the answer known to be in.
    await ann.reload()
    await expect(ann.locator("#q-feedback")).to_have_text("Answer locked in! Waiting for the others…")
    await expect(ann.locator(".slider-value")).to_have_text("100")  # the server said which
    await expect(ann.locator("#q-choices input[type=range]")).to_be_disabled()
    await expect(ann.locator("#q-choices .submit")).to_be_disabled()
    await ben.locator("#q-choices .submit").tap()
    await revealed(
        "5-slider", "Correct!", "Wrong answer", "Right answer: 100 (anything from 90 to 110 counts)"
    )
    await expect(host.locator("#r-choices .reveal-big")).to_contain_text("Right answer: 100")
    await expect(host.locator("#r-choices .scale-stack")).to_have_count(2)
    await expect(host.locator("#r-choices")).to_contain_text("1 answer close enough, of 2")

    # 6. order: shown with no item in its place; Ann moves Atom to the top with the keyboard.
    await next_question(host)
    await shown(6, "Put these in order, smallest first.")
    await expect(ann.locator(".order-item .choice-text")).to_have_text(["Cell", "Mouse", "Elephant", "Atom"])
    await expect(host.locator("#q-choices .choice")).to_have_text(["Cell", "Mouse", "Elephant", "Atom"])
    atom_up = ann.locator(".order-item", has_text="Atom").locator(".up")
    await expect(atom_up).to_be_enabled()  # the items can be read before the answers open
    await atom_up.focus()
    for _ in range(3):
        await ann.keyboard.press("Enter")  # the focus stays on the item that moved
    await expect(ann.locator(".order-item .choice-text")).to_have_text(["Atom", "Cell", "Mouse", "Elephant"])
    await shoot(everyone, "6-order")
    await ann.locator("#q-choices .submit").tap()
    await ben.locator("#q-choices .submit").tap()  # as shown: wrong
    await revealed("6-order", "Correct!", "Wrong answer", "Right order: Atom, Cell, Mouse, Elephant")
    await expect(ben.locator("#r-mine")).to_have_text("Your answer: Cell, Mouse, Elephant, Atom")
    await expect(host.locator("#r-choices .reveal-choice")).to_have_text(
        [re.compile(rf"{n}\.\s*{item}") for n, item in enumerate(["Atom", "Cell", "Mouse", "Elephant"], 1)]
    )

    # 7. poll: no right answer; nobody's verdict is right or wrong.
    await next_question(host)
    await shown(7, "Which kind of question did you like best?")
    await ann.locator("#q-choices button", has_text="Typing").tap()
    await ben.locator("#q-choices button", has_text="Sliding").tap()
    await revealed("7-poll", "Thanks for voting!", "Thanks for voting!", "")
    await expect(ben.locator("#r-mine")).to_have_text("Your vote: Sliding")
    await expect(ann.locator("#r-points")).to_have_text("")
    await expect(host.locator("#r-choices .correct")).to_have_count(0)
    await expect(host.locator("#r-choices .reveal-choice", has_text="Typing")).to_contain_text("1 vote")

    await next_question(host)
    await expect(host.locator("#podium .p1")).to_contain_text("Ann")
    await expect(ann.locator("#e-rank")).to_have_text("You finished 1st")
    await expect(ben.locator("#e-score")).to_have_text("0 points")
    await shoot(everyone, "8-podium")
    assert pages.errors == []
