"""The phone in a real browser when the network is bad, after a reload, and on small
screens (issue 16, phones).

A real server (SQLite, the system clock) and headless Chromium. The host is a
socket client (tests/client.py): these tests are about the phone. A phone whose
Wi-Fi stalls reaches the server through ``StallingProxy``, which can stop
forwarding without closing anything.
"""

from __future__ import annotations

import re

import aiohttp
import pytest

from tests.browser import PHONE, WAIT_MS, Pages, answers_open_at_once, screenshot
from tests.client import QuizClient
from tests.conftest import create_room, upload_quiz
from tests.stall_proxy import StallingProxy
from tests.test_browser import expect

NOTICED_WITHIN_S = 5  # the promise: a stalled connection is shown within 5 s

PHONE_320 = {"viewport": {"width": 320, "height": 640}, "is_mobile": True, "has_touch": True}
PHONES = (("320", PHONE_320), ("390", PHONE))

SKY = {
    "title": "Stalled Wi-Fi",
    "questions": [
        {
            "text": "What colour is a clear daytime sky?",
            "choices": ["Green", "Blue", "Red", "Yellow"],
            "correct": [1],
            "time_limit_s": 60,
        },
        {"text": "Which is a fruit?", "choices": ["Apple", "Carrot"], "correct": [0], "time_limit_s": 60},
    ],
}


@pytest.fixture
async def live_server(tmp_path):
    # Answers open as each question shows: a stall is timed from the tap, and a tap held
    # back by the reading time would land after the stall is noticed.
    async with answers_open_at_once(tmp_path) as running:
        yield running


@pytest.fixture
async def http():
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
async def proxy(live_server):
    running = await StallingProxy(live_server.port).start()
    yield running
    running.resume()  # let anything held go, so that nothing waits on it at shutdown
    await running.stop()


@pytest.fixture
async def phones(browser, proxy):  # noqa: F811
    """Pages opened through the proxy."""
    from playwright.async_api import expect

    expect.set_options(timeout=WAIT_MS)
    opened = Pages(browser, proxy.base_url)
    yield opened
    await opened.close()


async def a_host(http, live_server, quiz: dict) -> tuple[QuizClient, str]:
    quiz_id = await upload_quiz(http, live_server, quiz)
    host = await QuizClient(http, live_server.ws_url).connect()
    await host.hello()
    code, _ = await create_room(host, quiz_id)
    return host, code


async def join(player, code: str, name: str) -> None:
    await player.fill("#code", code)
    await player.fill("#name", name)
    await expect(player.locator("#join-button")).to_be_enabled()
    await player.click("#join-button")
    await expect(player.get_by_text("You're in!")).to_be_visible()


async def a_player_in_the_first_question(phones, http, live_server, quiz=SKY, name="Ann"):
    host, code = await a_host(http, live_server, quiz)
    ann = await phones.open("/", PHONE, name.lower())
    await join(ann, code, name)
    await host.expect("member_joined")
    await host.request({"type": "start"}, "question_shown")
    await expect(ann.locator("#q-text")).to_have_text(quiz["questions"][0]["text"])
    return host, code, ann


# Stamps, in the page, the moment the connection banner first shows each text: the
# time it took is measured by the page's clock, not by how often the test looks.
STAMP_BANNER = """() => {
  window.bannerSince = Date.now();
  window.bannerAt = {};
  const banner = document.querySelector("#status");
  new MutationObserver(() => {
    const words = banner.textContent;
    if (!banner.hidden && !(words in window.bannerAt)) window.bannerAt[words] = Date.now();
  }).observe(banner, { attributes: true, childList: true, characterData: true, subtree: true });
}"""


async def stall(page, proxy: StallingProxy) -> None:
    await page.evaluate(STAMP_BANNER)
    proxy.stall()


async def seconds_until_shown(page, text: str | re.Pattern) -> float:
    """How long after ``stall`` the banner first showed ``text`` (waits at most NOTICED_WITHIN_S + 5)."""
    await expect(page.locator("#status")).to_have_text(text, timeout=(NOTICED_WITHIN_S + 5) * 1000)
    shown = await page.evaluate("window.bannerAt")
    pattern = text if isinstance(text, re.Pattern) else re.compile(re.escape(text) + "$")
    first = min(at for words, at in shown.items() if pattern.match(words))
    return (first - await page.evaluate("window.bannerSince")) / 1000


# ---------------------------------------------------------------- a stalled connection


async def test_a_stall_is_noticed_and_the_verdict_shown_once_back(phones, http, live_server, proxy):
    """Answer acknowledged, then the Wi-Fi stalls while the question closes."""
    host, code, ann = await a_player_in_the_first_question(phones, http, live_server)
    await ann.locator("#q-choices button", has_text="Blue").tap()
    await expect(ann.locator("#q-feedback")).to_have_text("Answer locked in! Waiting for the others…")

    await stall(ann, proxy)
    took = await seconds_until_shown(ann, re.compile(r"^No connection — reconnecting…"))
    assert took < NOTICED_WITHIN_S
    await expect(ann.locator("#status")).to_be_visible()
    await expect(ann.locator("#q-feedback")).to_have_text("Answer locked in! Waiting for the others…")
    await screenshot(ann, "phone-stalled-answer-in-390")

    # The host closes the question while Ann's phone hears nothing.
    closed = await host.request({"type": "next"}, "question_closed")
    assert closed["distribution"] == [0, 1, 0, 0]
    proxy.resume()
    await expect(ann.locator("#r-verdict")).to_have_text("Correct!")
    await expect(ann.locator("#r-points")).to_have_text(re.compile(r"^\+\d+ points$"))
    await expect(ann.locator("#r-mine")).to_have_text("Your answer: Blue")
    await expect(ann.locator("#r-answer")).to_have_text("Right answer: Blue")
    await expect(ann.locator("#r-rank")).to_have_text("You are 1st of 1")
    await expect(ann.locator("#r-behind")).to_have_text("You are in the lead")
    await expect(ann.locator("#status")).to_be_hidden()
    await screenshot(ann, "phone-back-with-verdict-390")
    # Back on a new socket, without a storm of them (the page's own files came through it too).
    assert 2 <= proxy.connections <= 15
    assert phones.errors == []


async def test_an_answer_tapped_into_a_stall_is_never_shown_as_sent(phones, http, live_server, proxy):
    host, code, ann = await a_player_in_the_first_question(phones, http, live_server)
    await ann.evaluate("""() => {
      window.connectionEvents = [];
      // The page's Connection is a module variable: listen on what it reports to the page.
      new MutationObserver(() => window.connectionEvents.push(document.body.dataset.connection)).observe(
        document.body, { attributes: true, attributeFilter: ["data-connection"] });
    }""")
    await stall(ann, proxy)
    await ann.locator("#q-choices button", has_text="Red").tap()
    await expect(ann.locator("#q-feedback")).to_have_text("Sending your answer…")
    took = await seconds_until_shown(ann, "No connection — your answer was not sent")
    assert took < NOTICED_WITHIN_S
    await expect(ann.locator("#q-feedback")).to_have_text("No connection — your answer was not sent")
    await screenshot(ann, "phone-stalled-answer-not-sent-390")

    await host.request({"type": "next"}, "question_closed")  # closes with no answer from Ann
    proxy.resume()
    await expect(ann.locator("#r-verdict")).to_have_text("No answer")
    await expect(ann.locator("#r-points")).to_have_text("+0 points")
    await expect(ann.locator("#r-mine")).to_have_text("Your answer was not sent.")
    await expect(ann.locator("#status")).to_be_hidden()
    assert "reconnecting" in await ann.evaluate("window.connectionEvents")
    # The answer held in the stalled socket reached the server late, and was refused: nothing counted.
    state = await host.request({"type": "resync"}, "state")
    assert [m["score"] for m in state["room"]["members"]] == [0, 0]
    assert phones.errors == []


async def test_an_unacknowledged_answer_is_sent_again_while_the_question_is_open(
    phones, http, live_server, proxy
):
    host, code, ann = await a_player_in_the_first_question(phones, http, live_server)
    ben = await QuizClient(http, live_server.ws_url).connect()  # keeps the question open
    await ben.hello()
    await ben.request({"type": "join", "code": code, "name": "Ben"}, "state")
    await stall(ann, proxy)
    await ann.locator("#q-choices button", has_text="Blue").tap()
    assert await seconds_until_shown(ann, "No connection — your answer was not sent") < NOTICED_WITHIN_S
    proxy.resume()
    # Back: the answer goes again, or the server had it after all (the stalled socket
    # delivered it late, before the new one said hello): either way it counts once.
    await expect(ann.locator("#q-feedback")).to_have_text("Answer locked in! Waiting for the others…")
    await expect(ann.locator("#status")).to_be_hidden()
    await expect(ann.locator("#q-choices button.chosen")).to_have_text("◆Blue")
    state = await host.request({"type": "resync"}, "state")
    assert state["answers_progress"] == {"answered": 1, "total": 2}
    await ben.request({"type": "answer", "question": 0, "choice": 0}, "answer_accepted")
    closed = await host.expect("question_closed")
    assert closed["reason"] == "all_answered" and closed["distribution"] == [1, 1, 0, 0]
    await expect(ann.locator("#r-verdict")).to_have_text("Correct!")
    await expect(ann.locator("#r-mine")).to_have_text("Your answer: Blue")
    assert phones.errors == []


# ---------------------------------------------------------------- a reload


EVERY_KIND = {
    "title": "Reload quiz",
    "questions": [
        {"text": "Red Planet?", "choices": ["Venus", "Mars", "Jupiter"], "correct": [1], "time_limit_s": 60},
        {"type": "multi", "text": "Mammals?", "choices": ["Dolphin", "Shark", "Bat"], "correct": [0, 2]},
        {"type": "type_answer", "text": "Capital of Spain?", "accepted": ["Madrid"], "time_limit_s": 60},
        {"type": "slider", "text": "Boils at?", "min": 0, "max": 200, "step": 5, "value": 100},
        {"type": "order", "text": "Smallest first", "items": ["Atom", "Cell", "Mouse"], "time_limit_s": 60},
    ],
}


async def test_a_reloaded_phone_shows_the_answer_it_gave(phones, http, live_server):
    """For every way of answering, in the question and in its reveal."""
    host, code, ann = await a_player_in_the_first_question(phones, http, live_server, quiz=EVERY_KIND)
    ben = await QuizClient(http, live_server.ws_url).connect()  # keeps each question open
    await ben.hello()
    await ben.request({"type": "join", "code": code, "name": "Ben"}, "state")

    async def reload_and_check(check_question, mine: str) -> None:
        await ann.reload()
        await check_question()
        await expect(ann.locator("#q-feedback")).to_have_text("Answer locked in! Waiting for the others…")
        await host.request({"type": "next"}, "question_closed")
        await expect(ann.locator("#r-mine")).to_have_text(f"Your answer: {mine}")
        await ann.reload()
        await expect(ann.locator("#r-mine")).to_have_text(f"Your answer: {mine}")

    async def next_question(text: str) -> None:
        await host.request({"type": "next"}, "question_shown")
        await expect(ann.locator("#q-text")).to_have_text(text)

    await ann.locator("#q-choices button", has_text="Mars").tap()
    await expect(ann.locator("#q-feedback")).to_have_text("Answer locked in! Waiting for the others…")

    async def mars_chosen():
        await expect(ann.locator("#q-choices button.chosen")).to_have_text("◆Mars")

    await reload_and_check(mars_chosen, "Mars")
    await expect(ann.locator("#r-verdict")).to_have_text("Correct!")

    await next_question("Mammals?")
    for name in ("Dolphin", "Shark"):
        await ann.locator("#q-choices .choice", has_text=name).tap()
    await ann.locator("#q-choices .submit").tap()
    await expect(ann.locator("#q-feedback")).to_have_text("Answer locked in! Waiting for the others…")

    async def two_ticked():
        await expect(ann.locator("#q-choices .choice.ticked")).to_have_text(["▲Dolphin", "◆Shark"])

    await reload_and_check(two_ticked, "Dolphin, Shark")
    await expect(ann.locator("#r-verdict")).to_have_text("Wrong answer")

    await next_question("Capital of Spain?")
    await ann.locator("#q-choices input").fill("Madrid")
    await ann.keyboard.press("Enter")
    await expect(ann.locator("#q-feedback")).to_have_text("Answer locked in! Waiting for the others…")

    async def typed():
        await expect(ann.locator("#q-choices input")).to_have_value("Madrid")
        await expect(ann.locator("#q-choices input")).to_be_disabled()

    await reload_and_check(typed, "“Madrid”")

    await next_question("Boils at?")
    for _ in range(3):
        await ann.locator("#q-choices .nudge", has_text="−").tap()
    await ann.locator("#q-choices .submit").tap()
    await expect(ann.locator("#q-feedback")).to_have_text("Answer locked in! Waiting for the others…")

    async def slid():
        await expect(ann.locator(".slider-value")).to_have_text("85")

    await reload_and_check(slid, "85")

    await next_question("Smallest first")
    shown = await ann.locator(".order-item .choice-text").all_inner_texts()
    await ann.locator("#q-choices .submit").tap()  # as shown
    await expect(ann.locator("#q-feedback")).to_have_text("Answer locked in! Waiting for the others…")

    async def ordered():
        await expect(ann.locator(".order-item .choice-text")).to_have_text(shown)

    await reload_and_check(ordered, ", ".join(shown))
    await screenshot(ann, "phone-reloaded-reveal-390")
    assert phones.errors == []


# ---------------------------------------------------------------- small screens

LONG_NAME = "Wolfeschlegelsteinhausen"  # 24 characters, no space to break at
LONG_NAME_2 = "Maria Magdalena Fernánde"  # 24 characters with spaces
assert len(LONG_NAME) == len(LONG_NAME_2) == 24

LAYOUT_QUIZ = {
    "title": "The water cycle, and a few more questions of every kind",
    "questions": [
        {
            "text": "Which step of the water cycle turns water vapour back into tiny droplets?",
            "choices": [
                "Condensation of water vapour",
                "Precipitation from clouds",
                "Evaporation from the oceans",
                "Transpiration by plants",
                "Infiltration into the soil",
                "Sublimation of snow and ice",
            ],
            "correct": [0],
            "time_limit_s": 120,
        },
        {
            "type": "multi",
            "text": "Which of these are part of the water cycle?",
            "choices": ["Condensation", "Precipitation", "Photosynthesis", "Evaporation", "Transpiration"],
            "correct": [0, 1, 3, 4],
            "time_limit_s": 120,
        },
        {
            "type": "true_false",
            "text": "Clouds are made of water vapour.",
            "correct": False,
            "time_limit_s": 120,
        },
        {
            "type": "type_answer",
            "text": "What is the name for water falling from clouds?",
            "accepted": ["Precipitation", "Rain"],
            "time_limit_s": 120,
        },
        {
            "type": "slider",
            "text": "How many percent of the Earth's water is in the oceans?",
            "min": 0,
            "max": 100,
            "step": 1,
            "value": 97,
            "tolerance": 2,
            "time_limit_s": 120,
        },
        {
            "type": "order",
            "text": "Put the water cycle in order, starting from the sea.",
            "items": ["Evaporation", "Condensation", "Precipitation", "Infiltration into groundwater"],
            "time_limit_s": 120,
        },
        {
            "type": "poll",
            "text": "Which part of the water cycle is the most interesting?",
            "choices": ["Condensation", "Precipitation", "Evaporation", "Transpiration"],
        },
    ],
}

# Words of the answers and the question that are broken over two lines. An ordinary
# word (up to 14 letters here) fits a line of a 320 px phone and must never be broken.
BROKEN_WORDS = """(selector) => {
  const broken = [];
  for (const node of document.querySelectorAll(selector)) {
    const walker = document.createTreeWalker(node, NodeFilter.SHOW_TEXT);
    for (let text = walker.nextNode(); text; text = walker.nextNode()) {
      for (const match of text.data.matchAll(/\\S+/g)) {
        const range = document.createRange();
        range.setStart(text, match.index);
        range.setEnd(text, match.index + match[0].length);
        const lines = new Set([...range.getClientRects()].map((r) => Math.round(r.top)));
        if (lines.size > 1) broken.push(match[0]);
      }
    }
  }
  return broken;
}"""

# Anything wider than the screen: the page itself, or an element sticking out of it.
TOO_WIDE = """() => {
  const width = window.innerWidth;
  const page = document.scrollingElement.scrollWidth;
  const out = [...document.querySelectorAll("body *")]
    .filter((e) => e.getClientRects().length && e.getBoundingClientRect().right > width + 0.5)
    .map((e) => e.id || e.className || e.tagName);
  return { width, page, out };
}"""


async def fits(page, label: str) -> None:
    """No horizontal scroll, nothing sticking out; a screenshot to look at."""
    measured = await page.evaluate(TOO_WIDE)
    assert measured["page"] <= measured["width"], (label, measured)
    assert measured["out"] == [], (label, measured)
    broken = await page.evaluate(BROKEN_WORDS, "#q-choices, #q-text, .bar, #screen-result, .standings")
    # A 24-letter name with no space is no word: beside the score on a 320 px bar it wraps where it must.
    assert [word for word in broken if word != LONG_NAME] == [], label
    await screenshot(page, f"phone-layout-{label}")


@pytest.mark.parametrize(("width", "device"), PHONES, ids=[w for w, _ in PHONES])
async def test_phone_layouts_hold_with_long_names_long_choices_and_every_kind(
    phones, http, live_server, width, device
):
    host, code = await a_host(http, live_server, LAYOUT_QUIZ)
    other = await phones.open("/", device, "maria")
    await join(other, code, LONG_NAME_2)
    ann = await phones.open("/", device, "wolf")
    await fits(ann, f"{width}-join")
    await join(ann, code, LONG_NAME)
    await expect(ann.locator("#me")).to_have_text(LONG_NAME)
    await fits(ann, f"{width}-lobby")
    await host.request({"type": "start"}, "question_shown")
    texts = [q["text"] for q in LAYOUT_QUIZ["questions"]]

    # 1. Six long choices: one per row, every one reachable, no word broken.
    await expect(ann.locator("#q-text")).to_have_text(texts[0])
    tiles = ann.locator("#q-choices .choice")
    await expect(tiles).to_have_count(6)
    await fits(ann, f"{width}-1-six-long-choices")
    boxes = [await tiles.nth(i).bounding_box() for i in range(6)]
    assert len({round(b["x"]) for b in boxes}) == 1, "one choice per row"
    assert all(b["x"] >= 0 and b["x"] + b["width"] <= int(width) for b in boxes)
    if device is PHONE:  # a common phone shows all six without scrolling
        assert boxes[5]["y"] + boxes[5]["height"] <= PHONE["viewport"]["height"]
    await tiles.nth(5).tap()  # the last one is reachable, and takes a tap
    await expect(ann.locator("#q-feedback")).to_have_text("Answer locked in! Waiting for the others…")
    await other.locator("#q-choices .choice").nth(0).tap()
    await expect(ann.locator("#r-verdict")).to_have_text("Wrong answer")
    await expect(ann.locator("#r-behind")).to_have_text(re.compile(rf"^\d+ points behind {LONG_NAME_2}$"))
    await expect(other.locator("#r-behind")).to_have_text("You are in the lead")
    await fits(ann, f"{width}-1-reveal")
    await fits(other, f"{width}-1-reveal-leader")

    # 2. multi with single long words.
    await host.request({"type": "next"}, "question_shown")
    await expect(ann.locator("#q-text")).to_have_text(texts[1])
    await ann.locator("#q-choices .choice", has_text="Precipitation").tap()
    await fits(ann, f"{width}-2-multi")
    await ann.locator("#q-choices .submit").tap()

    # 3. true/false
    await host.request({"type": "next"}, "question_closed")
    await host.request({"type": "next"}, "question_shown")
    await expect(ann.locator("#q-text")).to_have_text(texts[2])
    await fits(ann, f"{width}-3-true-false")

    # 4. typed
    await host.request({"type": "next"}, "question_closed")
    await host.request({"type": "next"}, "question_shown")
    await expect(ann.locator("#q-text")).to_have_text(texts[3])
    await ann.locator("#q-choices input").fill("Precipitation")
    await fits(ann, f"{width}-4-type-answer")
    await ann.keyboard.press("Enter")
    await host.request({"type": "next"}, "question_closed")
    await expect(ann.locator("#r-answer")).to_have_text("Accepted: Precipitation, Rain")
    await fits(ann, f"{width}-4-reveal")

    # 5. slider
    await host.request({"type": "next"}, "question_shown")
    await expect(ann.locator("#q-text")).to_have_text(texts[4])
    await fits(ann, f"{width}-5-slider")

    # 6. order, with a long item
    await host.request({"type": "next"}, "question_closed")
    await host.request({"type": "next"}, "question_shown")
    await expect(ann.locator("#q-text")).to_have_text(texts[5])
    await fits(ann, f"{width}-6-order")
    await ann.locator("#q-choices .submit").tap()
    await host.request({"type": "next"}, "question_closed")
    await expect(ann.locator("#r-verdict")).to_have_text(re.compile("answer"))
    await fits(ann, f"{width}-6-reveal")

    # 7. poll
    await host.request({"type": "next"}, "question_shown")
    await expect(ann.locator("#q-text")).to_have_text(texts[6])
    await fits(ann, f"{width}-7-poll")

    await host.request({"type": "end"}, "quiz_ended")
    await expect(ann.locator("#e-podium li")).to_have_count(2)
    await fits(ann, f"{width}-ended")
    assert phones.errors == []
