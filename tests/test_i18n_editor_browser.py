"""The quiz editor in English, German and Spanish, in Chromium (issue 17, docs/i18n.md).

A teacher whose browser speaks the language makes a quiz in the editor: one
question of every type, a picture, the preview of each, a save refused with
every problem marked, a save that works, a save refused because the quiz
changed in another tab, the question before leaving with unsaved changes, the
admin key dialog and a save refused for want of the key. At
each step every visible text, aria-label, placeholder and title must be a text
of that language's catalog (the quiz's own words, file names and numbers
aside): a problem the server said only in English fails in German and Spanish.
axe-core (vendored, tests/vendor/axe-core) finds no serious or critical
violation at any step. Screenshots of the German and Spanish editor at 390 px
and 1280 px land in test-output/i18n-editor-*.png.
"""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

import aiohttp
import pytest

from quiz_actors.clock import SystemClock
from quiz_actors.settings import Settings
from tests import test_browser
from tests.browser import LAPTOP, PHONE, Pages, screenshot
from tests.conftest import RunningServer
from tests.test_accessibility_browser import axe_problems
from tests.test_i18n_browser import STATIC, VISIBLE_TEXTS, catalog_patterns, untranslated
from tests.test_quiz_editor_browser import IMAGE, QUESTIONS, card_ids, quiz_id_of

live_server = test_browser.live_server  # browser and pages: tests/browser.py, for every test
expect = test_browser.expect

TITLE = "Planets and more"
# The quiz's own words, the picture's file name and the editor's marks are not the page's texts.
OWN_WORDS = {TITLE, "Planets, changed elsewhere", IMAGE["name"], "…", "⠿", "?"}
for question in QUESTIONS:
    OWN_WORDS.update([question["text"], *question.get("choices", []), *question.get("items", [])])
    OWN_WORDS.update(question.get("accepted", []))
LANGUAGES = [("en", "en-US"), ("de", "de-DE"), ("es", "es-ES")]


def catalog(language: str) -> dict[str, str]:
    loaded: dict[str, str] = json.loads((STATIC / f"i18n-{language}.json").read_text("utf-8"))
    return loaded


class Checker:
    """Collects, for one language, every text not from its catalog and every axe violation."""

    def __init__(self, language: str):
        self.language = language
        self.patterns = catalog_patterns(language)
        self.problems: list[str] = []

    async def check(self, page, label: str, shot: str | None = None) -> None:
        await expect(page.locator("html")).to_have_attribute("lang", self.language)
        texts = [text for text in await page.evaluate(VISIBLE_TEXTS) if text not in OWN_WORDS]
        self.problems.extend(f"{label}: {text!r}" for text in untranslated(texts, self.patterns))
        self.problems.extend(await axe_problems(page, label))
        if shot:
            await screenshot(page, f"i18n-editor-{self.language}-{shot}")


async def fill(page, number: int, q: dict[str, Any]) -> None:
    """Question ``number`` filled in through its controls' ids, whatever the page's language."""
    ids = await card_ids(page, number)
    await page.locator(f"#{ids}-text").fill(q["text"])
    kind = q["type"]
    if kind in ("choice", "multi", "poll"):
        while await page.locator(f"#{ids}-card .choice-row").count() > len(q["choices"]):
            await page.locator(f"#{ids}-card .choice-row").last.locator("button").click()
        for j, text in enumerate(q["choices"]):
            await page.locator(f"#{ids}-choice-{j}").fill(text)
        for j in q.get("correct", []):
            await page.locator(f"label[for='{ids}-choice-{j}-right']").click()
    elif kind == "true_false":
        await page.locator(f"label[for='{ids}-tf-{'true' if q['correct'] else 'false'}']").click()
    elif kind == "type_answer":
        for j, text in enumerate(q["accepted"]):
            if j > 0:
                await page.locator(f"#{ids}-add-accepted").click()
            await page.locator(f"#{ids}-accepted-{j}").fill(text)
        await page.locator(f"label[for='{ids}-accents']").click()
    elif kind == "slider":
        for name in ("min", "max", "step", "value", "tolerance"):
            await page.locator(f"#{ids}-{name}").fill(str(q[name]))
    elif kind == "order":
        for j, text in enumerate(q["items"]):
            await page.locator(f"#{ids}-items-{j}").fill(text)
    await page.locator(f"#{ids}-time").fill(str(q["time_limit_s"]))
    if "points" in q:
        await page.locator(f"#{ids}-points").select_option(q["points"])


@pytest.mark.parametrize("language, locale", LANGUAGES)
async def test_the_editor_speaks_the_browsers_language(pages, live_server, language, locale):
    words = catalog(language)
    checker = Checker(language)
    page = await pages.open("/quizzes/edit", {**LAPTOP, "locale": locale}, f"editor-{language}")
    await expect(page.locator("#language")).to_have_value(language)
    await expect(page.locator("#save-state")).to_have_text(words["editor.state.new"])
    await checker.check(page, "new")

    # One question of every type: the new quiz's first is a choice question.
    for q in QUESTIONS[1:]:
        await page.locator("#new-type").select_option(q["type"])
        await page.click("#add-question")
    await expect(page.locator(".question-card")).to_have_count(len(QUESTIONS))
    ids = await card_ids(page, 1)
    await page.locator(f"#{ids}-image").set_input_files(IMAGE)
    await expect(page.locator(f"#{ids}-card img.thumb")).to_be_visible()
    await page.locator(f"label[for='{ids}-on-phones']").click()
    await checker.check(page, "every-type")

    # Saved with nothing filled in (and a slider upside down): refused, every problem marked.
    slider = await card_ids(page, 5)
    await page.locator(f"#{slider}-min").fill("300")
    await page.click("#save")
    await expect(page.locator("#notice")).to_be_visible()
    await expect(page.locator(f"#{slider}-max-problem")).to_contain_text("300")
    await expect(page.locator(".problem.shown")).not_to_have_count(0)
    await checker.check(page, "problems", "problems-1280")

    # Filled in: the preview of each question, then saved.
    await page.fill("#quiz-title", TITLE)
    for number, q in enumerate(QUESTIONS, start=1):
        await fill(page, number, q)
        await expect(page.locator("#preview .question-text").first).to_have_text(q["text"])
        await checker.check(page, f"preview-{q['type']}")
    await expect(page.locator(".problem.shown")).to_have_count(0)
    await page.click("#save")
    saved = words["editor.state.saved"].replace("{revision}", "1")
    await expect(page.locator("#save-state")).to_have_text(saved)
    await expect(page.locator("#notice")).to_have_text(words["editor.saved"].replace("{title}", TITLE))
    await checker.check(page, "saved", "saved-1280")

    # Changed in another tab meanwhile: this tab's save is refused, said in the page's language.
    quiz_id = quiz_id_of(page)
    url = f"{live_server.base_url}/api/quizzes/{quiz_id}"
    async with aiohttp.ClientSession() as http:
        async with http.get(url) as response:
            document = (await response.json())["document"]
        changed = {**document, "title": "Planets, changed elsewhere"}
        async with http.put(url, json=changed, headers={"If-Match": '"1"'}) as response:
            assert response.status == 200, await response.text()
    await page.fill("#quiz-title", f"{TITLE}!")
    await page.click("#save")
    await expect(page.locator("#conflict")).to_be_visible()
    await expect(page.locator("#conflict-text")).to_have_text(
        words["editor.conflict.changed_at"].replace("{revision}", "2")
    )
    await checker.check(page, "conflict")
    await page.fill("#quiz-title", TITLE)
    await page.click("#conflict-copy")
    await expect(page.locator("#save-state")).to_have_text(saved)

    # Leaving with unsaved changes asks first, in the page's language.
    await page.fill("#quiz-title", f"{TITLE}?")
    asked: list[str] = []

    async def answer(dialog) -> None:  # type: ignore[no-untyped-def]
        asked.append(dialog.message)
        await dialog.dismiss()

    page.once("dialog", lambda dialog: asyncio.ensure_future(answer(dialog)))
    await page.locator(".bar-links a").first.click()
    await expect(page.locator("#quiz-title")).to_have_value(f"{TITLE}?")
    assert asked == [words["editor.leave"]]
    assert checker.problems == [], "\n".join(checker.problems)
    assert pages.errors == []


@pytest.mark.parametrize("language, locale", [("de", "de-DE"), ("es", "es-ES")])
async def test_the_editor_on_a_phone_keeps_long_words_inside_the_screen(pages, live_server, language, locale):
    async with aiohttp.ClientSession() as http:
        document = {"title": TITLE, "questions": QUESTIONS}
        async with http.post(f"{live_server.base_url}/api/quizzes", json=document) as response:
            quiz_id = (await response.json())["quiz_id"]
    checker = Checker(language)
    page = await pages.open(f"/quizzes/edit?id={quiz_id}", {**PHONE, "locale": locale}, f"phone-{language}")
    await expect(page.locator(".question-card")).to_have_count(len(QUESTIONS))
    await expect(page).to_have_title(re.compile(re.escape(TITLE)))
    # A problem next to its field: a slider whose right value is off its steps.
    slider = await card_ids(page, 5)
    await page.locator(f"#{slider}-value").fill("101")
    await expect(page.locator(f"#{slider}-value-problem")).to_contain_text("101")
    await checker.check(page, "phone", "390")
    assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE["viewport"]["width"]
    # Every question in the preview on the phone too.
    for number in range(1, len(QUESTIONS) + 1):
        ids = await card_ids(page, number)
        await page.locator(f"#{ids}-text").focus()
        await expect(page.locator("#preview-which")).to_contain_text(str(number))
        await checker.check(page, f"phone-preview-{number}")
        assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE["viewport"]["width"]
    assert checker.problems == [], "\n".join(checker.problems)
    assert pages.errors == []


@pytest.mark.parametrize("language, locale", [("de", "de-DE"), ("es", "es-ES")])
async def test_the_admin_key_dialog_and_a_refused_key_in_the_browsers_language(
    browser, tmp_path, language, locale
):
    from playwright.async_api import expect as playwright_expect

    playwright_expect.set_options(
        timeout=test_browser.WAIT_MS
    )  # the pages fixture's wait, without its server
    words = catalog(language)
    settings = Settings(store=f"sqlite:///{tmp_path}/events.sqlite3", admin_key="sesame")
    server = await RunningServer(settings, SystemClock()).start()
    opened = Pages(browser, server.base_url)
    checker = Checker(language)
    try:
        page = await opened.open("/quizzes/edit", {**LAPTOP, "locale": locale}, f"key-{language}")
        # The check as the teacher types needs the key already: the dialog asks for it.
        await page.fill("#quiz-title", TITLE)
        dialog = page.locator(".key-dialog")
        await expect(dialog).to_contain_text(words["quizapi.key.why"])
        await checker.check(page, "key")
        await page.locator("#admin-key-input").fill("wrong")
        await page.keyboard.press("Enter")
        await expect(dialog).to_contain_text(words["quizapi.key.wrong"])
        await checker.check(page, "key-wrong", "admin-key-1280")
        await dialog.get_by_role("button", name=words["quizapi.key.cancel"]).click()
        await expect(dialog).to_have_count(0)
        # Saved without a key: refused, and the reason is in the page's language, not the server's English.
        await page.click("#save")
        await expect(dialog).to_be_visible()
        await dialog.get_by_role("button", name=words["quizapi.key.cancel"]).click()
        reason = words["quizapi.error.unauthorized"]
        await expect(page.locator("#notice")).to_have_text(
            words["editor.not_saved.because"].replace("{reason}", reason)
        )
        await checker.check(page, "not-saved")
        assert checker.problems == [], "\n".join(checker.problems)
        assert opened.errors == []
    finally:
        await opened.close()
        await server.stop()
