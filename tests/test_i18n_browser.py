"""The host and player pages in German and Spanish, in Chromium (issue 17, docs/i18n.md).

A host page and a phone whose browsers speak German (then Spanish) play a game
of every question type. On every screen of both each
visible text, and each aria-label and placeholder, must be a text of that
language's catalog (its {placeholders} filled in) or the game's own data
(question texts, choices, names, numbers, marks): an English text left over
fails. The language switch is remembered across reloads.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from quiz_actors.samples import __file__ as samples_init
from tests import test_browser
from tests.browser import PHONE, screenshot
from tests.test_browser import BIG_SCREEN, expect

live_server = test_browser.live_server  # browser and pages: tests/browser.py, for every test

STATIC = Path(__file__).resolve().parents[1] / "quiz_actors" / "server" / "static"
EVERY_TYPE = json.loads((Path(samples_init).parent / "every-type.json").read_text("utf-8"))
# What the game itself shows: the quiz's words, the players' names.
SLOW_EVERY_TYPE = {
    **EVERY_TYPE,
    "title": "Every kind of question, slowly",
    "questions": [{**q, "time_limit_s": 240} for q in EVERY_TYPE["questions"]],
}
DATA = {"Ms Host", "Lena", SLOW_EVERY_TYPE["title"]}
DATA.update(json.loads(p.read_text("utf-8"))["title"] for p in Path(samples_init).parent.glob("*.json"))
for question in EVERY_TYPE["questions"]:
    DATA.update([question["text"], *question.get("choices", []), *question.get("items", [])])
    DATA.update(question.get("accepted", []))
NOT_WORDS = re.compile(r"^[\d\s.,:/()±+−×%✔▲◆●■★⬟▼–-]*$")  # numbers, codes, addresses, marks
MARKS = "✔✘•▲◆●■★⬟▼ "

VISIBLE_TEXTS = """() => {
  const shown = (e) => e && !e.closest("[hidden]") && getComputedStyle(e).display !== "none";
  const texts = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const node = walker.currentNode;
    const text = node.textContent.trim();
    // The announcements (read out, never shown) are checked on their own: see english_in.
    const parent = node.parentElement;
    if (text && shown(parent) && !parent.closest(".visually-hidden")) texts.push(text);
  }
  for (const e of document.querySelectorAll("[aria-label], [placeholder], [title]")) {
    if (!shown(e)) continue;
    for (const name of ["aria-label", "placeholder", "title"]) {
      if (e.hasAttribute(name) && e.getAttribute(name).trim()) texts.push(e.getAttribute(name).trim());
    }
  }
  texts.push(document.title);
  return texts;
}"""


def catalog_patterns(language: str) -> list[re.Pattern[str]]:
    catalog = json.loads((STATIC / f"i18n-{language}.json").read_text("utf-8"))
    patterns = []
    for text in catalog.values():
        parts = re.split(r"\{\w+\}", text)
        if not any(ch.isalpha() for part in parts for ch in part):
            continue  # "{n}." (a German ordinal) would match any text that ends in a full stop
        patterns.append(re.compile("(?:.+?)".join(re.escape(p) for p in parts), re.DOTALL))
    return patterns


ANNOUNCEMENTS = (
    "() => [...document.querySelectorAll('.visually-hidden[aria-live]')].map((e) => e.textContent)"
)


def english_in(text: str, language: str) -> list[str]:
    """The English catalog's phrases (of two words or more, not in ``language``'s catalog) in ``text``."""
    english = json.loads((STATIC / "i18n-en.json").read_text("utf-8"))
    own = " | ".join(json.loads((STATIC / f"i18n-{language}.json").read_text("utf-8")).values())
    phrases = {p.strip() for value in english.values() for p in re.split(r"\{\w+\}", value)}
    return [p for p in phrases if " " in p and len(p) > 6 and p in text and p not in own and p not in DATA]


def untranslated(texts: list[str], patterns: list[re.Pattern[str]]) -> list[str]:
    def known(text: str) -> bool:
        text = text.lstrip(MARKS)
        if text in DATA or NOT_WORDS.match(text) or text in ("English", "Deutsch", "Español"):
            return True
        if any(p.fullmatch(text) for p in patterns):
            return True
        # A text made of catalog texts (an announcement joins several with ". ").
        pieces = [p for p in re.split(r"(?<=[.!])\s+", text) if p]
        return all(
            piece in DATA
            or NOT_WORDS.match(piece)
            or any(p.fullmatch(piece.rstrip(".")) or p.fullmatch(piece) for p in patterns)
            for piece in pieces
        )

    return [text for text in texts if not known(text)]


@pytest.mark.parametrize("language, locale", [("de", "de-DE"), ("es", "es-ES")])
async def test_every_screen_speaks_the_browsers_language(pages, live_server, http_session, language, locale):
    patterns = catalog_patterns(language)
    problems: list[str] = []
    async with http_session.post(live_server.base_url + "/api/quizzes", json=SLOW_EVERY_TYPE) as response:
        assert response.status == 201, await response.text()
    host = await pages.open("/host", {**BIG_SCREEN, "locale": locale}, f"host-{language}")
    lena = await pages.open("/", {**PHONE, "locale": locale}, f"lena-{language}")

    async def check(label: str) -> None:
        for page, who in ((host, "host"), (lena, "lena")):
            await expect(page.locator("html")).to_have_attribute("lang", language)
            texts = await page.evaluate(VISIBLE_TEXTS)
            problems.extend(f"{label} {who}: {text!r}" for text in untranslated(texts, patterns))
            for said in await page.evaluate(ANNOUNCEMENTS):
                problems.extend(f"{label} {who} announced English: {p!r}" for p in english_in(said, language))
            await screenshot(page, f"i18n-{language}-{label}-{who}")

    await expect(lena.locator("#join-button")).to_be_enabled()
    await expect(host.locator("#quiz-list input").first).to_be_visible()
    await check("0-setup")
    await host.get_by_label(SLOW_EVERY_TYPE["title"]).check()
    await host.fill("#host-name", "Ms Host")
    await host.click("#create-button")
    await expect(host.locator("#room-code")).to_be_visible()
    code = await host.locator("#room-code").get_attribute("data-code")
    # A refused name is explained in the page's language.
    await lena.fill("#code", code)
    await lena.fill("#name", "Ms H0st")
    await lena.click("#join-button")
    await expect(lena.locator("#join-error")).not_to_be_empty()
    await check("1-join-error")
    await lena.fill("#name", "Lena")
    await lena.click("#join-button")
    await expect(lena.locator("#screen-lobby")).to_be_visible()
    await expect(host.locator("#players li")).to_have_count(1)
    await check("2-lobby")

    async def show_leaderboard(label: str) -> None:
        """The host's step after a reveal: the leaderboard, checked in the page's language."""
        await host.click("#show-leaderboard")
        await expect(host.locator("#screen-leaderboard")).to_be_visible()
        await expect(host.locator("#leaderboard li")).to_have_count(1)
        await check(label)

    async def play(number: int, label: str, answer) -> None:  # type: ignore[no-untyped-def]
        if number > 0:
            await show_leaderboard(f"{number + 2}-leaderboard")
        await host.click("#start" if number == 0 else "#next")
        await expect(lena.locator("#screen-question")).to_be_visible()
        await expect(lena.locator("#q-text")).to_have_text(EVERY_TYPE["questions"][number]["text"])
        await check(f"{number + 3}-{label}")
        await answer()
        await expect(lena.locator("#screen-result")).to_be_visible()  # everyone has answered
        await expect(lena.locator("#r-verdict")).not_to_be_empty()
        await expect(host.locator("#screen-reveal")).to_be_visible()
        await check(f"{number + 3}-{label}-result")

    choices = lena.locator("#q-choices .choice")
    submit = lena.locator("#q-choices .submit")
    await play(0, "choice", lambda: choices.nth(1).click())

    async def multi() -> None:
        await choices.nth(0).click()
        await submit.click()

    await play(1, "multi", multi)
    await play(2, "true-false", lambda: choices.nth(0).click())

    async def typed() -> None:
        await lena.locator("#q-choices input").fill("Madrid")
        await submit.click()

    await play(3, "type-answer", typed)
    await play(4, "slider", lambda: submit.click())
    await play(5, "order", lambda: submit.click())
    await play(6, "poll", lambda: choices.nth(2).click())
    await show_leaderboard("9-leaderboard")
    await host.click("#next")
    await expect(lena.locator("#screen-ended")).to_be_visible()
    await expect(host.locator("#screen-ended")).to_be_visible()
    await check("10-ended")
    assert problems == [], "\n".join(problems)
    assert pages.errors == []


async def test_the_language_switch_is_remembered(pages):
    page = await pages.open("/", {**PHONE, "locale": "en-GB"}, "switcher")
    await expect(page.locator("h1:visible")).to_have_text("Join a quiz")
    await page.select_option("#language", "es")
    await expect(page.locator("html")).to_have_attribute("lang", "es")
    await expect(page.locator("h1:visible")).to_have_text("Unirse a un quiz")
    await page.reload()
    await expect(page.locator("h1:visible")).to_have_text("Unirse a un quiz")
    await expect(page.locator("#language")).to_have_value("es")
    await page.select_option("#language", "de")
    await expect(page.locator("h1:visible")).to_have_text("Einem Quiz beitreten")
    await page.goto(page.url)
    await expect(page.locator("#join-button")).to_have_text("Beitreten")
    await screenshot(page, "i18n-switch-de")
    assert pages.errors == []


@pytest.fixture
async def http_session():
    import aiohttp

    async with aiohttp.ClientSession() as session:
        yield session
