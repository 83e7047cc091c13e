"""The quiz library, the past games page and a game's report in English, German and Spanish, in Chromium.

Issue 17 ("every visible string in a catalog"); docs/i18n.md. For each language a
browser that speaks it opens the quiz library (quizzes listed, a search that finds
nothing, the delete button asking to be clicked again, a duplicate made, a file
it cannot import), the past games page (empty, then with a finished game and a
game not started) and that game's report on its own (/host/games?room=…, every
player's answers opened). On each screen every visible text, aria-label,
placeholder and the title must be a text of the language's catalog (its
{placeholders} filled in) or the game's own data (titles, names, answers,
numbers): English left over fails, as in tests/test_i18n_browser.py. axe-core
(vendored) finds no serious or critical violation on any of them, at 320 px and
at 1920×1080; at 320 px nothing is wider than the phone. The language
chosen on one of these pages is the language of the others. With an admin key,
the library's key dialog and a refused change speak the page's language too.

Screenshots: test-output/i18n-teacher-<language>-<screen>-<width>.png, German
and Spanish at 320 px and 1920×1080.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from quiz_actors.clock import SystemClock
from quiz_actors.samples import __file__ as samples_init
from quiz_actors.settings import Settings
from tests import test_browser
from tests.browser import Pages, screenshot
from tests.conftest import RunningServer, create_room, join, open_client
from tests.test_accessibility_browser import axe_problems
from tests.test_browser import BIG_SCREEN, PHONE_320, expect
from tests.test_i18n_browser import MARKS as LEADING_MARKS
from tests.test_i18n_browser import NOT_WORDS, STATIC, VISIBLE_TEXTS

live_server = test_browser.live_server  # browser and pages: tests/browser.py, for every test

SAMPLES = Path(samples_init).parent
EVERY_TYPE = json.loads((SAMPLES / "every-type.json").read_text("utf-8"))
# What the games themselves show: titles, names, questions, answers (Ann's typed answer as
# she typed it, and as the reveal groups it), the file that is not a quiz.
DATA = {"Ms Host", "Lena", "Ann", "Barcelona", "barcelona", "notes.txt"}
DATA.update(json.loads(p.read_text("utf-8"))["title"] for p in SAMPLES.glob("*.json"))
for question in EVERY_TYPE["questions"]:
    DATA.update([question["text"], *question.get("choices", []), *question.get("items", [])])
    DATA.update(question.get("accepted", []))
FILE_NAME = re.compile(r"^[\w-]+\.(?:xlsx|csv|json)$")  # the template downloads' names
MARKS = re.compile(r"^[—–·\s]*$")
LANGUAGES = [("en", "en-GB"), ("de", "de-DE"), ("es", "es-ES")]
# Placeholders a page fills with its own words, not with data: what fills them must be a
# catalog text too, or English in "Zeile {row}, Spalte {column}: {message}" would pass.
SAID_BY_THE_PAGE = {"message"}


def is_data(text: str) -> bool:
    """A text of the game's own: a title, a name, an answer ("Dolphin, Bat", "Atom > Cell", '"Mars"')."""
    if text in DATA or FILE_NAME.match(text) or MARKS.match(text):
        return True
    return all(p.strip().strip('"') in DATA for p in re.split(r",\s+|\s+>\s+", text))


def catalog_texts(language: str) -> list[tuple[re.Pattern[str], bool, list[str]]]:
    """Each text of the language's catalog as a pattern (a group per placeholder), whether
    its own words hold a letter ("{rank} {name}: {points}" has none, so it proves nothing about
    a text it matches unless what fills its placeholders is known too), and its placeholders."""
    catalog = json.loads((STATIC / f"i18n-{language}.json").read_text("utf-8"))
    patterns = []
    for text in catalog.values():
        parts = re.split(r"\{\w+\}", text)
        pattern = re.compile("(.+?)".join(re.escape(p) for p in parts), re.DOTALL)
        patterns.append((pattern, any(c.isalpha() for c in "".join(parts)), re.findall(r"\{(\w+)\}", text)))
    return patterns


def unknown(texts: list[str], language: str) -> list[str]:
    """The texts that are neither a catalog text of ``language`` (placeholders filled) nor data."""
    patterns = catalog_texts(language)

    def known(text: str) -> bool:
        text = text.strip().lstrip(LEADING_MARKS)
        if is_data(text) or NOT_WORDS.match(text) or text in ("English", "Deutsch", "Español"):
            return True
        for pattern, worded, names in patterns:
            match = pattern.fullmatch(text)
            if match is None:
                continue
            said = [
                filled for name, filled in zip(names, match.groups(), strict=True) if name in SAID_BY_THE_PAGE
            ]
            if (worded or all(known(filled) for filled in match.groups())) and all(map(known, said)):
                return True
        return False

    return [text for text in texts if not known(text)]


async def untranslated_on(page, language: str) -> list[str]:
    await expect(page.locator("html")).to_have_attribute("lang", language)
    return unknown(await page.evaluate(VISIBLE_TEXTS), language)


def test_a_text_is_known_only_by_the_catalogs_words():
    assert unknown(["1.º Lena: 6000 puntos", "Room 123456"], "es") == ["Room 123456"]
    # English that happens to fit "{rank} {name}: {points}" is not taken for Spanish.
    assert unknown(["Could not load the quizzes: 404"], "es") == ["Could not load the quizzes: 404"]
    assert unknown(["No se pudieron cargar los quizzes: 404", "2.º Ann: 0 puntos"], "es") == []
    # English inside a placeholder the page fills with its own words is English left over.
    english = "Zeile 2, Spalte G: There is no answer 9: this row has 2 answers"
    assert unknown([english], "de") == [english]
    assert unknown(["Zeile 2, Spalte G: Es gibt keine Antwort 9: Diese Zeile hat 2 Antworten."], "de") == []


class Checker:
    """Checks a page's words and its accessibility, and takes its screenshots."""

    def __init__(self, language: str):
        self.language = language
        self.problems: list[str] = []

    async def __call__(self, page, screen: str) -> None:
        label = f"{self.language} {screen}"
        self.problems.extend(f"{label}: {text!r}" for text in await untranslated_on(page, self.language))
        for name, size in (("320", PHONE_320["viewport"]), ("1920x1080", BIG_SCREEN["viewport"])):
            await page.set_viewport_size(size)
            self.problems.extend(await axe_problems(page, f"{label} {name}"))
            if self.language != "en":
                await screenshot(page, f"i18n-teacher-{self.language}-{screen}-{name}")
            wide = await page.evaluate("document.documentElement.scrollWidth")
            if name == "320" and wide > 320:
                self.problems.append(f"{label}: {wide} px wide on a 320 px phone")
        await page.set_viewport_size(BIG_SCREEN["viewport"])


async def play_a_game(http, server) -> tuple[str, str, str]:
    """A finished game of every question type, over real sockets: its host's token, room id and code."""
    async with http.post(server.base_url + "/api/quizzes", json=EVERY_TYPE) as response:
        assert response.status == 201, await response.text()
        quiz_id = (await response.json())["quiz_id"]
    host = await open_client(http, server)
    code, state = await create_room(host, quiz_id, "Ms Host")
    lena, ann = await open_client(http, server), await open_client(http, server)
    await join(lena, code, "Lena")
    await join(ann, code, "Ann")
    # Lena gets each one right, Ann each one wrong (the poll has no right answer).
    answers = [
        ({"choice": 1}, {"choice": 0}),
        ({"choices": [0, 2]}, {"choices": [1]}),
        ({"choice": 0}, {"choice": 1}),
        ({"text": "Madrid"}, {"text": "Barcelona"}),
        ({"value": 100}, {"value": 50}),
        (None, None),  # the order: as each phone was shown it, and the reverse
        ({"choice": 2}, {"choice": 1}),
    ]
    for index, (right, wrong) in enumerate(answers):
        await host.send({"type": "start" if index == 0 else "next"})
        shown = [await player.expect("question_shown", index=index) for player in (lena, ann)]
        if right is None:
            count = len(shown[0]["items"])
            right, wrong = {"order": list(range(count))}, {"order": list(range(count))[::-1]}
        for player, payload in ((lena, right), (ann, wrong)):
            reply = await player.request({"type": "answer", "question": index, **payload}, "answer_accepted")
            assert reply["type"] == "answer_accepted", reply
        await host.expect("question_closed", index=index)
    await host.send({"type": "next"})
    await lena.expect("quiz_ended")
    for client in (host, lena, ann):
        await client.close()
    return host.token, state["room"]["room_id"], code


@pytest.mark.parametrize("language, locale", LANGUAGES)
async def test_the_library_speaks_the_browsers_language(pages, language, locale):
    check = Checker(language)
    page = await pages.open("/quizzes", {**BIG_SCREEN, "locale": locale}, f"library-{language}")
    sample = json.loads((SAMPLES / "capitals.json").read_text("utf-8"))["title"]
    await expect(page.locator(".library-title", has_text=sample)).to_be_visible()
    await expect(page.locator("#language")).to_have_value(language)
    await check(page, "library")

    await page.locator("#search").fill("no such quiz anywhere")
    await expect(page.locator(".library-row")).to_have_count(0)
    await expect(page.locator("#list-note")).to_contain_text("no such quiz anywhere")
    await check(page, "library-no-match")
    await page.locator("#search").fill("")
    await expect(page.locator(".library-title", has_text=sample)).to_be_visible()

    # Delete asks once more; duplicating says what it made.
    row = page.locator(".library-row", has_text=sample)
    delete = row.locator("button.danger")
    before = await delete.inner_text()
    await delete.click()
    await expect(delete).not_to_have_text(before)
    await check(page, "library-delete-confirm")
    await row.locator("button.plain").first.click()  # duplicate
    await expect(page.locator("#notice")).to_be_visible()
    await expect(page.locator(".library-title", has_text=f"{sample} (")).to_have_count(1)
    copy = (await page.locator(".library-title", has_text=f"{sample} (").inner_text()).strip()
    assert (
        copy == sample + {"en": " (copy)", "de": " (Kopie)", "es": " (copia)"}[language]
    )  # the page's words
    DATA.add(copy)
    await check(page, "library-duplicated")
    copy_row = page.locator(".library-row", has_text=copy)
    await copy_row.locator("button.danger").click()
    await copy_row.locator("button.danger").click()
    await expect(page.locator(".library-title", has_text=copy)).to_have_count(0)
    await expect(page.locator("#notice")).to_contain_text(copy)
    await page.locator("#import-file").set_input_files(
        files=[{"name": "notes.txt", "mimeType": "text/plain", "buffer": b"not a quiz"}]
    )
    await expect(page.locator("#import-result")).to_contain_text("notes.txt")
    await check(page, "library-import-refused")

    # A spreadsheet with a wrong cell: where it is and what is wrong, both in the page's language
    # (the problem's code and params, docs/api.md "Problem codes"), never the server's English.
    bad = (
        "Question,Answer 1,Answer 2,Answer 3,Answer 4,Time limit,Correct answer(s)\n" + "2 + 2?,3,4,,,20,9\n"
    )
    await page.locator("#import-file").set_input_files(
        files=[{"name": "sums.csv", "mimeType": "text/csv", "buffer": bad.encode()}]
    )
    said = {
        "en": "Row 2, column G: There is no answer 9: this row has 2 answers.",
        "de": "Zeile 2, Spalte G: Es gibt keine Antwort 9: Diese Zeile hat 2 Antworten.",
        "es": "Fila 2, columna G: No existe la respuesta 9: esta fila tiene 2 respuestas.",
    }[language]
    await expect(page.locator("#import-problems li")).to_have_text([said])
    await expect(page.locator("#import-result")).to_contain_text("sums.csv")
    await check(page, "library-import-problems")
    assert check.problems == [], "\n".join(check.problems)
    assert pages.errors == []


@pytest.mark.parametrize("language, locale", LANGUAGES)
async def test_past_games_and_a_report_speak_the_browsers_language(
    pages, live_server, http, language, locale
):
    check = Checker(language)
    token, room_id, code = await play_a_game(http, live_server)
    page = await pages.open("/host/games", {**BIG_SCREEN, "locale": locale}, f"games-{language}")
    await expect(page.locator("#games-note")).not_to_be_empty()
    await check(page, "games-none")

    # This browser's host session (as the host page keeps it), and a second room not started yet.
    other = await open_client(http, live_server, token)
    async with http.get(live_server.base_url + "/api/quizzes") as response:
        quiz_id = (await response.json())["quizzes"][0]["quiz_id"]
    await create_room(other, quiz_id, "Ms Host")
    await page.evaluate("(token) => localStorage.setItem('quiz.host.token', token)", token)
    await page.reload()
    await expect(page.locator("#games li")).to_have_count(2)
    await expect(page.locator(f"#games li[data-code='{code}']")).to_contain_text(code)
    await check(page, "games")

    # A key that is not the admin's: refused, in words.
    await page.locator("#admin summary").click()
    await page.fill("#admin-key", "not the key")
    listed = await page.locator("#games-note").inner_text()
    await page.locator("#admin-form button").click()
    await expect(page.locator("#games-note")).not_to_have_text(listed)
    await check(page, "games-admin-refused")

    # The report on its own, every player's answers opened.
    await page.goto(f"{live_server.base_url}/host/games?room={room_id}")
    report = page.locator("#game-report .report")
    await expect(report.locator(".report-ranking tbody tr")).to_have_count(2)
    await expect(report.locator(".report-question")).to_have_count(len(EVERY_TYPE["questions"]))
    await page.evaluate(
        "() => document.querySelectorAll('#game-report details').forEach((d) => (d.open = true))"
    )
    await expect(report.locator(".report-answers tbody tr")).to_have_count(2 * len(EVERY_TYPE["questions"]))
    await check(page, "report")

    # A report that is not there: said in words, with a retry.
    await page.goto(f"{live_server.base_url}/host/games?room=00000000-0000-4000-8000-000000000000")
    await expect(page.locator(".report-error")).to_be_visible()
    await check(page, "report-missing")
    await other.close()
    assert check.problems == [], "\n".join(check.problems)
    assert pages.errors == []


async def test_the_language_chosen_on_one_page_is_kept_on_the_others(pages):
    page = await pages.open("/quizzes", {**BIG_SCREEN, "locale": "en-GB"}, "teacher")
    await expect(page.locator("h1")).to_have_text("Your quizzes")
    await page.select_option("#language", "de")
    await expect(page.locator("h1")).to_have_text("Deine Quizze")
    await page.get_by_role("link", name="Ein Spiel leiten").click()
    await expect(page.locator("#screen-setup h1")).to_have_text("Ein Quiz leiten")
    await expect(page.locator("#host-name")).to_have_value("Spielleitung")
    await page.get_by_role("link", name="Frühere Spiele und ihre Berichte").click()
    await expect(page.locator("h1")).to_have_text("Frühere Spiele")
    await expect(page.locator("#language")).to_have_value("de")
    await page.select_option("#language", "es")
    await expect(page.locator("h1")).to_have_text("Partidas anteriores")
    await page.get_by_role("link", name="Dirigir un quiz").click()
    await expect(page.locator("#host-name")).to_have_value("Anfitrión")
    await page.goto(page.url.replace("/host", "/quizzes"))
    await expect(page.locator("h1")).to_have_text("Tus quizzes")
    await expect(page.locator("html")).to_have_attribute("lang", "es")
    assert pages.errors == []


@pytest.mark.parametrize("language, locale", LANGUAGES[1:])
async def test_the_admin_key_dialog_and_a_refused_delete_speak_the_pages_language(
    browser, tmp_path, language, locale
):
    settings = Settings(store=f"sqlite:///{tmp_path}/events.sqlite3", admin_key="sesame")
    server = await RunningServer(settings, SystemClock()).start()
    opened = Pages(browser, server.base_url)
    check = Checker(language)
    try:
        page = await opened.open("/quizzes", {**BIG_SCREEN, "locale": locale}, "teacher")
        delete = page.locator(".library-row").first.locator("button.danger")
        await delete.click()
        await delete.click()
        dialog = page.locator(".key-dialog")
        await expect(dialog).to_be_visible()
        await check(page, "library-key-dialog")
        await dialog.locator("button.plain").click()
        await expect(page.locator("#notice")).to_be_visible()
        await check(page, "library-key-refused")
        assert check.problems == [], "\n".join(check.problems)
        assert opened.errors == []
    finally:
        await opened.close()
        await server.stop()
