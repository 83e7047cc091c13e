"""The quiz library and the quiz editor in a real browser (issue 15).

A real server (SQLite store, the system clock) and Debian's Chromium. A teacher
makes a quiz with one question of every type and an image, once with the mouse
and once with the keyboard alone; sees a mistake next to its field; saves;
plays it with two phones; edits it during the game (the game is unchanged);
deletes it (its report remains). Two tabs editing one quiz: the second save is
refused and nothing is overwritten. The tests wait for what the pages show,
never for a fixed time, and check what the server stored through its API.
"""

from __future__ import annotations

import asyncio
import json
import re
import struct
import zlib

import aiohttp
import pytest

from quiz_actors.clock import SystemClock
from quiz_actors.settings import Settings
from tests.browser import LAPTOP, OUTPUT_DIR, PHONE, Pages, screenshot
from tests.conftest import RunningServer
from tests.test_browser import BIG_SCREEN, PHONE_320, create_room, expect, join
from tests.test_replay_audit import audit, json_lines

SCREEN_720 = {"viewport": {"width": 1280, "height": 720}}
TAB_LIMIT = 400  # Tab presses to reach any control: the page has far fewer


def png(width: int = 64, height: int = 48, rgb: tuple[int, int, int] = (200, 30, 60)) -> bytes:
    """A real PNG, built by hand: the server checks the content, not the name."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


IMAGE = {"name": "mars.png", "mimeType": "image/png", "buffer": png()}

# The quiz both teachers make, as the server should store it. The order item
# and the poll are added last-but-one and last, then swapped in the editor.
TITLE = "Planets and more"
QUESTIONS = [
    {
        "type": "choice",
        "text": "Which planet is known as the Red Planet?",
        "choices": ["Venus", "Mars", "Jupiter", "Saturn"],
        "correct": [1],
        "time_limit_s": 20,
        "points": "double",
    },
    {
        "type": "multi",
        "text": "Which of these are mammals?",
        "choices": ["Dolphin", "Shark", "Bat"],
        "correct": [0, 2],
        "time_limit_s": 30,
        "points": "standard",
    },
    {"type": "true_false", "text": "Spiders are insects.", "correct": False, "time_limit_s": 20},
    {
        "type": "type_answer",
        "text": "What is the capital of Spain?",
        "accepted": ["Madrid", "Madrid city"],
        "ignore_accents": True,
        "time_limit_s": 20,
    },
    {
        "type": "slider",
        "text": "At what temperature (°C) does water boil at sea level?",
        "min": 0,
        "max": 200,
        "step": 5,
        "value": 100,
        "tolerance": 10,
        "time_limit_s": 20,
    },
    {
        "type": "order",
        "text": "Put these in order, smallest first.",
        "items": ["Atom", "Cell", "Mouse", "Elephant"],
        "time_limit_s": 40,
        "points": "none",
    },
    {
        "type": "poll",
        "text": "Which kind of question did you like best?",
        "choices": ["Choosing", "Typing"],
        "time_limit_s": 20,
    },
]
TYPE_WORDS = {  # the start of each type's name in the editor's menus
    "choice": "Choice",
    "multi": "Multiple",
    "true_false": "True",
    "type_answer": "Type",
    "slider": "Slider",
    "order": "Put",
    "poll": "Poll",
}
POINTS_WORDS = {"standard": "Standard", "double": "Double", "none": "No points"}


@pytest.fixture
async def live_server(tmp_path):
    settings = Settings(store=f"sqlite:///{tmp_path}/events.sqlite3", progress_interval_s=0.05)
    running = await RunningServer(settings, SystemClock()).start()
    yield running
    await running.stop()


async def stored(server: RunningServer, quiz_id: str, key: str | None = None) -> dict:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{server.base_url}/api/quizzes/{quiz_id}", headers=headers) as response:
            assert response.status == 200, await response.text()
            return await response.json()


async def listed(server: RunningServer) -> list[dict]:
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{server.base_url}/api/quizzes") as response:
            return (await response.json())["quizzes"]


def assert_same_questions(document: dict, expected: list[dict]) -> None:
    """Every field the teacher set is stored as set (the server may add its defaults)."""
    assert len(document["questions"]) == len(expected)
    for i, (got, want) in enumerate(zip(document["questions"], expected, strict=True)):
        for name, value in want.items():
            assert got.get(name) == value, f"question {i + 1}, {name}: {got.get(name)!r} != {value!r}"


async def card_ids(page, number: int) -> str:
    """The id prefix of the controls of question `number` (1-based), as shown now."""
    card = page.locator(".question-card").nth(number - 1)
    await expect(card).to_be_visible()
    return f"q{await card.get_attribute('data-key')}"


def quiz_id_of(page) -> str:
    match = re.search(r"[?&]id=([^&]+)", page.url)
    assert match, f"no quiz id in {page.url}"
    return match.group(1)


# ---------------------------------------------------------------- the mouse


async def mouse_fills(page, number: int, q: dict) -> None:
    """Question `number` filled in by clicking; text goes in with fill()."""
    ids = await card_ids(page, number)
    await page.locator(f"#{ids}-text").fill(q["text"])
    kind = q["type"]
    if kind in ("choice", "multi", "poll"):
        while await page.locator(f"#{ids}-card .choice-row").count() > len(q["choices"]):
            remove = f"Remove choice {len(q['choices']) + 1}"
            await page.locator(f"#{ids}-card").get_by_role("button", name=remove, exact=True).click()
        for j, text in enumerate(q["choices"]):
            await page.locator(f"#{ids}-choice-{j}").fill(text)
        for j in q.get("correct", []):
            await page.locator(f"label[for='{ids}-choice-{j}-right']").click()
    elif kind == "true_false":
        await page.locator(
            f"#{ids}-card label.tick", has_text="False" if not q["correct"] else "True"
        ).click()
    elif kind == "type_answer":
        for j, text in enumerate(q["accepted"]):
            if j > 0:
                await page.locator(f"#{ids}-add-accepted").click()
            await page.locator(f"#{ids}-accepted-{j}").fill(text)
        if q["ignore_accents"]:
            await page.locator(f"label[for='{ids}-accents']").click()
    elif kind == "slider":
        for name in ("min", "max", "step", "value", "tolerance"):
            await page.locator(f"#{ids}-{name}").fill(str(q[name]))
    elif kind == "order":
        # Typed with the first two swapped, then put right with ▲.
        items = [q["items"][1], q["items"][0], *q["items"][2:]]
        for j, text in enumerate(items):
            await page.locator(f"#{ids}-items-{j}").fill(text)
        await page.locator(f"#{ids}-card").get_by_role("button", name="Move item 2 up", exact=True).click()
    await page.locator(f"#{ids}-time").fill(str(q["time_limit_s"]))
    if "points" in q:
        await page.locator(f"#{ids}-points").select_option(label=POINTS_WORDS[q["points"]])


async def mouse_adds(page, kind: str) -> None:
    await page.locator("#new-type").select_option(kind)
    await page.click("#add-question")


async def test_a_teacher_makes_a_quiz_with_the_mouse_plays_it_edits_it_mid_game_and_deletes_it(
    pages, live_server
):
    teacher = await pages.open("/host", SCREEN_720, "teacher")
    await teacher.click("#library-link")
    await expect(teacher.locator("h1")).to_have_text("Your quizzes")
    await teacher.click("#new-quiz")
    await expect(teacher.locator("#save-state")).to_have_text("A new quiz: nothing saved yet")
    await teacher.locator("#quiz-title").fill(TITLE)
    await teacher.locator("#quiz-description").fill("A bit of everything")

    # The new quiz starts with one choice question; the others are added by type.
    # The poll goes in before the order question, and is then dragged below it.
    order = [0, 1, 2, 3, 4, 6, 5]
    for number, index in enumerate(order, start=1):
        q = QUESTIONS[index]
        if number > 1:
            await mouse_adds(teacher, q["type"])
        await mouse_fills(teacher, number, q)
    await expect(teacher.locator(".question-card h2")).to_have_count(7)

    # A mistake: question 1 loses its text, and says so next to the field as she goes.
    ids = await card_ids(teacher, 1)
    await teacher.locator(f"#{ids}-text").fill("")
    problem = teacher.locator(f"#{ids}-text-problem")
    await expect(problem).to_have_text(re.compile(r"\w"))
    await expect(teacher.locator(f"#{ids}-text")).to_have_attribute("aria-invalid", "true")
    await screenshot(teacher, "editor-mistake-1280")
    await teacher.locator(f"#{ids}-text").fill(QUESTIONS[0]["text"])
    await expect(problem).to_be_hidden()

    # The image, on question 1, shown on the phones too; the preview shows it.
    await teacher.locator(f"#{ids}-image").set_input_files(files=[IMAGE])
    await expect(teacher.locator(f"#{ids}-card img.thumb")).to_be_visible()
    await teacher.locator(f"label[for='{ids}-on-phones']").click()
    await teacher.locator(f"#{ids}-text").click()
    await expect(teacher.locator("#preview .preview-phone .question-text")).to_have_text(QUESTIONS[0]["text"])
    await expect(teacher.locator("#preview .preview-phone img.question-image")).to_be_visible()
    await expect(teacher.locator("#preview .preview-phone .choice")).to_have_text(
        [re.compile(t) for t in QUESTIONS[0]["choices"]]
    )

    # Dragging the order question (7th) onto the poll (6th) swaps them. (A window
    # tall enough for both: Playwright's mouse cannot scroll the page mid-drag.)
    await teacher.set_viewport_size({"width": 1280, "height": 2400})
    await (
        teacher.locator(".question-card")
        .nth(6)
        .locator(".drag-handle")
        .drag_to(teacher.locator(".question-card").nth(5))
    )
    await expect(teacher.locator(".question-card").nth(5).locator("textarea").first).to_have_value(
        QUESTIONS[5]["text"]
    )
    await teacher.set_viewport_size(SCREEN_720["viewport"])

    await expect(teacher.locator("#save-state")).to_contain_text("Unsaved changes")
    await teacher.click("#save")
    await expect(teacher.locator("#save-state")).to_have_text("Saved (revision 1)")
    quiz_id = quiz_id_of(teacher)
    quiz = await stored(live_server, quiz_id)
    assert quiz["document"]["title"] == TITLE
    assert quiz["document"]["description"] == "A bit of everything"
    assert_same_questions(quiz["document"], QUESTIONS)
    image = quiz["document"]["questions"][0]["image"]
    assert re.fullmatch(r"[0-9a-f]{64}", image)
    assert quiz["document"]["questions"][0]["image_on_phones"] is True
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{live_server.base_url}/media/{image}") as response:
            assert response.status == 200
            assert response.content_type.startswith("image/")

    # Two phones play it, hosted from the library's "Host" link.
    await teacher.goto(f"{live_server.base_url}/quizzes")
    await teacher.get_by_role("link", name=f"Host a game of “{TITLE}”").click()
    await expect(teacher.get_by_label(re.compile(re.escape(TITLE)))).to_be_checked()
    code = await create_room(teacher, TITLE)
    ann = await pages.open("/", PHONE, "ann")
    await join(ann, code, "Ann")
    ben = await pages.open("/", PHONE_320, "ben")
    await join(ben, code, "Ben")
    await expect(teacher.locator("#player-count")).to_have_text("2 players")
    await teacher.click("#start")
    for page in (teacher, ann, ben):
        await expect(page.locator("#q-text")).to_have_text(QUESTIONS[0]["text"])
    await ann.locator("#q-choices button", has_text="Mars").tap()
    await ben.locator("#q-choices button", has_text="Venus").tap()
    await expect(ann.locator("#r-verdict")).to_have_text("Correct!")
    await expect(ben.locator("#r-verdict")).to_have_text("Wrong answer")

    # Mid-game, the teacher changes question 2 in another tab and saves: the game plays on unchanged.
    editor = await teacher.context.new_page()
    await editor.goto(f"{live_server.base_url}/quizzes/edit?id={quiz_id}")
    ids = await card_ids(editor, 2)
    await expect(editor.locator(f"#{ids}-text")).to_have_value(QUESTIONS[1]["text"])
    await editor.locator(f"#{ids}-text").fill("Which of these can fly?")
    await editor.click("#save")
    await expect(editor.locator("#save-state")).to_have_text("Saved (revision 2)")
    await teacher.bring_to_front()
    await teacher.click("#show-leaderboard")  # the reveal, then the leaderboard, then the next question
    await teacher.click("#next")
    for page in (teacher, ann, ben):
        await expect(page.locator("#q-text")).to_have_text(QUESTIONS[1]["text"])
    await ann.locator("#q-choices .choice", has_text="Dolphin").tap()
    await ann.locator("#q-choices .choice", has_text="Bat").tap()
    await ann.locator("#q-choices .submit").tap()
    await ben.locator("#q-choices .choice", has_text="Shark").tap()
    await ben.locator("#q-choices .submit").tap()
    await expect(ann.locator("#r-verdict")).to_have_text("Correct!")
    await expect(ann.locator("#r-answer")).to_have_text("Right answers: Dolphin and Bat")
    for button in ("#end-quiz-3", "#end-quiz-3"):  # "End the quiz" on the reveal, clicked twice
        await teacher.click(button)
    await expect(teacher.locator("#podium .p1")).to_contain_text("Ann")

    # Deleted from the library (two clicks): gone from the list, its game's report stays.
    await editor.goto(f"{live_server.base_url}/quizzes")
    delete = editor.get_by_role("button", name=f"Delete “{TITLE}”")
    await delete.click()
    await expect(delete).to_have_text("Click again to delete")
    await delete.click()
    await expect(editor.locator("#notice")).to_contain_text(f"Deleted “{TITLE}”")
    await expect(editor.locator(".library-title", has_text=TITLE)).to_have_count(0)
    assert quiz_id not in [q["quiz_id"] for q in await listed(live_server)]
    report = json_lines((await audit(live_server.settings.store, "game", code, "--json")).stdout)
    assert report, "the game's report is gone"
    assert {"Ann", "Ben"} <= set(re.findall(r'"name": "(\w+)"', json.dumps(report)))
    assert pages.errors == []


# ---------------------------------------------------------------- the keyboard alone


async def tab_to(page, selector: str, backwards: bool = False) -> None:
    """Tab (or Shift+Tab) until the focus is on `selector`: proves the keyboard gets there."""
    for _ in range(TAB_LIMIT):
        if await page.evaluate("(s) => Boolean(document.activeElement?.matches(s))", selector):
            return
        await page.keyboard.press("Shift+Tab" if backwards else "Tab")
    raise AssertionError(f"the keyboard never reached {selector}")


async def type_into(page, selector: str, text: str) -> None:
    await tab_to(page, selector)
    await page.keyboard.press("Control+A")
    await page.keyboard.type(text)


async def keyboard_fills(page, number: int, q: dict) -> None:
    ids = await card_ids(page, number)
    await type_into(page, f"#{ids}-text", q["text"])
    kind = q["type"]
    if kind in ("choice", "multi", "poll"):
        while await page.locator(f"#{ids}-card .choice-row").count() > len(q["choices"]):
            extra = await page.locator(f"#{ids}-card .choice-row").count()
            await tab_to(page, f"#{ids}-card .choice-row:nth-of-type({extra}) button")
            await page.keyboard.press("Enter")
        for j, text in enumerate(q["choices"]):
            await type_into(page, f"#{ids}-choice-{j}", text)
            if j in q.get("correct", []):
                await page.keyboard.press("Tab")
                await page.keyboard.press("Space")
    elif kind == "true_false":
        await tab_to(page, f"input[name='{ids}-tf']")
        await page.keyboard.press("ArrowDown" if not q["correct"] else "ArrowUp")
    elif kind == "type_answer":
        for j, text in enumerate(q["accepted"]):
            if j > 0:
                await tab_to(page, f"#{ids}-add-accepted")
                await page.keyboard.press("Enter")  # the focus goes to the new answer's field
            await type_into(page, f"#{ids}-accepted-{j}", text)
        if q["ignore_accents"]:
            await tab_to(page, f"#{ids}-accents")
            await page.keyboard.press("Space")
    elif kind == "slider":
        for name in ("min", "max", "step", "value", "tolerance"):
            await type_into(page, f"#{ids}-{name}", str(q[name]))
    elif kind == "order":
        items = [q["items"][1], q["items"][0], *q["items"][2:]]
        for j, text in enumerate(items):
            await type_into(page, f"#{ids}-items-{j}", text)
        await tab_to(page, f"#{ids}-items-1-up", backwards=True)
        await page.keyboard.press("Enter")
    await type_into(page, f"#{ids}-time", str(q["time_limit_s"]))
    if "points" in q:
        await tab_to(page, f"#{ids}-points")
        await page.keyboard.type(POINTS_WORDS[q["points"]])


async def test_a_teacher_makes_the_same_quiz_with_the_keyboard_alone(pages, live_server):
    teacher = await pages.open("/quizzes", SCREEN_720, "teacher")
    await expect(teacher.locator("h1")).to_have_text("Your quizzes")
    await tab_to(teacher, "#new-quiz")
    await teacher.keyboard.press("Enter")
    await expect(teacher.locator("#quiz-title")).to_be_focused()
    await teacher.keyboard.type(TITLE)
    await teacher.keyboard.press("Tab")
    await teacher.keyboard.type("Made without a mouse")

    order = [0, 1, 2, 3, 4, 6, 5]
    for number, index in enumerate(order, start=1):
        q = QUESTIONS[index]
        if number > 1:
            await tab_to(teacher, "#new-type")
            await teacher.keyboard.type(TYPE_WORDS[q["type"]])
            await teacher.keyboard.press("Tab")  # to "Add a question"
            await teacher.keyboard.press("Enter")
            # The new question's text has the focus at once.
            ids = await card_ids(teacher, number)
            await expect(teacher.locator(f"#{ids}-text")).to_be_focused()
        await keyboard_fills(teacher, number, q)

    # The image, chosen from the file dialog that Enter opens.
    ids = await card_ids(teacher, 1)
    # Listen for the dialog before the focus gets there: Playwright turns on its interception of
    # file dialogs when the listener is added, and an Enter pressed at once could beat it.
    async with teacher.expect_file_chooser() as chooser:
        await tab_to(teacher, f"#{ids}-image", backwards=True)
        await teacher.keyboard.press("Enter")
    await (await chooser.value).set_files(files=[IMAGE])
    await expect(teacher.locator(f"#{ids}-card img.thumb")).to_be_visible()
    await tab_to(teacher, f"#{ids}-on-phones")
    await teacher.keyboard.press("Space")

    # A mistake, seen next to its field: a slider whose right answer is off the scale.
    slider = await card_ids(teacher, 5)
    await type_into(teacher, f"#{slider}-value", "300")
    await expect(teacher.locator(f"#{slider}-card .problem.shown").first).to_contain_text("300")
    await type_into(teacher, f"#{slider}-value", "100")
    await expect(teacher.locator(f"#{slider}-card .problem.shown")).to_have_count(0)

    # Alt+↑ moves the order question (7th) above the poll, and the focus goes with it.
    last = await card_ids(teacher, 7)
    await tab_to(teacher, f"#{last}-text", backwards=True)
    await teacher.keyboard.press("Alt+ArrowUp")
    await expect(teacher.locator(f"#{last}-text")).to_be_focused()
    await expect(teacher.locator(f"#{last}-heading")).to_have_text("Question 6")

    await teacher.keyboard.press("Control+S")
    await expect(teacher.locator("#save-state")).to_have_text("Saved (revision 1)")
    quiz = await stored(live_server, quiz_id_of(teacher))
    assert quiz["document"]["description"] == "Made without a mouse"
    assert_same_questions(quiz["document"], QUESTIONS)
    assert quiz["document"]["questions"][0]["image_on_phones"] is True
    assert pages.errors == []


# ---------------------------------------------------------------- two tabs, leaving


async def make_quiz(server: RunningServer, title: str = "Shared quiz") -> str:
    document = {"title": title, "questions": [QUESTIONS[0], QUESTIONS[2]]}
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{server.base_url}/api/quizzes", json=document) as response:
            assert response.status == 201, await response.text()
            return (await response.json())["quiz_id"]


async def test_two_tabs_editing_one_quiz_the_second_save_is_refused_and_nothing_is_overwritten(
    pages, live_server
):
    quiz_id = await make_quiz(live_server)
    first = await pages.open(f"/quizzes/edit?id={quiz_id}", LAPTOP, "first")
    second = await first.context.new_page()
    await second.goto(f"{live_server.base_url}/quizzes/edit?id={quiz_id}")
    for page in (first, second):
        await expect(page.locator("#quiz-title")).to_have_value("Shared quiz")

    await first.locator("#quiz-title").fill("Changed in the first tab")
    await first.keyboard.press("Control+S")
    await expect(first.locator("#save-state")).to_have_text("Saved (revision 2)")

    await second.locator("#quiz-title").fill("Changed in the second tab")
    await second.click("#save")
    await expect(second.locator("#conflict")).to_contain_text("This quiz changed since you opened it")
    await expect(second.locator("#save-state")).to_contain_text("Unsaved changes")
    await screenshot(second, "editor-conflict-1280")
    quiz = await stored(live_server, quiz_id)
    assert quiz["document"]["title"] == "Changed in the first tab"
    assert quiz["revision"] == 2

    # Keeping the work: it becomes a new quiz; the first tab's quiz is untouched.
    await second.click("#conflict-copy")
    await expect(second.locator("#save-state")).to_have_text("Saved (revision 1)")
    copy_id = quiz_id_of(second)
    assert copy_id != quiz_id
    assert (await stored(live_server, copy_id))["document"]["title"] == "Changed in the second tab"
    assert (await stored(live_server, quiz_id))["document"]["title"] == "Changed in the first tab"

    # Leaving with unsaved changes asks first: "Cancel" stays, "OK" goes.
    await second.locator("#quiz-description").fill("not saved")
    asked: list[str] = []

    async def answer(dialog, accept: bool) -> None:
        asked.append(dialog.message)
        await (dialog.accept() if accept else dialog.dismiss())

    second.once("dialog", lambda dialog: asyncio.ensure_future(answer(dialog, False)))
    await second.get_by_role("link", name="Quiz library").click()
    await expect(second.locator("#quiz-description")).to_have_value("not saved")
    assert asked == ["This quiz has unsaved changes. Leave without saving them?"]
    second.once("dialog", lambda dialog: asyncio.ensure_future(answer(dialog, True)))
    await second.get_by_role("link", name="Quiz library").click()
    await expect(second.locator("h1")).to_have_text("Your quizzes")

    # Closing the tab with unsaved changes: the browser's own "leave this page?".
    await first.locator("#quiz-description").fill("not saved either")
    kinds: list[str] = []
    first.once("dialog", lambda dialog: (kinds.append(dialog.type), asyncio.ensure_future(dialog.dismiss())))
    await first.close(run_before_unload=True)
    await expect(first.locator("#quiz-description")).to_have_value("not saved either")
    assert kinds == ["beforeunload"]
    assert pages.errors == []


# ---------------------------------------------------------------- the library


async def test_the_library_searches_duplicates_imports_and_exports(pages, live_server):
    await make_quiz(live_server, "Volcanoes")
    library = await pages.open("/quizzes", LAPTOP, "library")
    await expect(library.locator(".library-title", has_text="Volcanoes")).to_be_visible()
    await expect(library.locator(".library-row", has_text="Volcanoes")).to_contain_text(
        "2 questions · changed "
    )

    await library.locator("#search").fill("volc")
    await expect(library.locator(".library-title")).to_have_text(["Volcanoes"])
    await library.locator("#search").fill("no such quiz")
    await expect(library.locator("#list-note")).to_have_text("No quiz has “no such quiz” in its title.")
    await library.locator("#search").fill("")
    await expect(library.locator(".library-title", has_text="Volcanoes")).to_be_visible()

    await library.get_by_role("button", name="Duplicate “Volcanoes”").click()
    await expect(library.locator(".library-title", has_text="Volcanoes (copy)")).to_be_visible()

    # An import with one bad row: nothing imported, the row and column named.
    bad = "\n".join(
        [
            "Question,Answer 1,Answer 2,Answer 3,Answer 4,Time limit,Correct answer(s)",
            "What is 2 + 2?,3,4,,,20,2",
            "What is 3 + 3?,6,7,,,20,9",
        ]
    )
    before = len(await listed(live_server))
    await library.locator("#import-file").set_input_files(
        files=[{"name": "sums.csv", "mimeType": "text/csv", "buffer": bad.encode()}]
    )
    await expect(library.locator("#import-result")).to_contain_text("Nothing was imported from sums.csv")
    await expect(library.locator("#import-problems li").first).to_contain_text(re.compile(r"Row \d+"))
    assert len(await listed(live_server)) == before

    good = bad.replace(",20,9", ",20,1")
    await library.locator("#import-file").set_input_files(
        files=[{"name": "sums.csv", "mimeType": "text/csv", "buffer": good.encode()}]
    )
    await expect(library.locator("#import-result")).to_contain_text("Imported “")
    await expect(library.locator("#import-result")).to_contain_text("(2 questions)")
    assert len(await listed(live_server)) == before + 1

    async with library.expect_download() as download:
        await library.get_by_role("button", name="Export JSON of “Volcanoes”").click()
    saved_at = await (await download.value).path()
    exported = json.loads(await asyncio.to_thread(saved_at.read_text))
    assert exported["quiz"]["title"] == "Volcanoes"
    async with library.expect_download() as download:
        await library.get_by_role("link", name="template.xlsx").click()
    assert (await download.value).suggested_filename.endswith(".xlsx")
    await screenshot(library, "library-import-1280")
    assert pages.errors == []


# ---------------------------------------------------------------- the admin key


async def test_with_an_admin_key_the_editor_asks_for_it_once(browser, tmp_path):
    settings = Settings(store=f"sqlite:///{tmp_path}/events.sqlite3", admin_key="sesame")
    server = await RunningServer(settings, SystemClock()).start()
    opened = Pages(browser, server.base_url)
    try:
        async with aiohttp.ClientSession() as http:
            document = {"title": "Locked quiz", "questions": [QUESTIONS[0]]}
            async with http.post(
                f"{server.base_url}/api/quizzes", json=document, headers={"Authorization": "Bearer sesame"}
            ) as response:
                quiz_id = (await response.json())["quiz_id"]
        page = await opened.open(f"/quizzes/edit?id={quiz_id}", LAPTOP, "teacher")
        dialog = page.locator(".key-dialog")
        await expect(dialog).to_be_visible()
        await page.locator("#admin-key-input").fill("wrong")
        await page.keyboard.press("Enter")
        await expect(dialog).to_contain_text("That key was not accepted")
        await page.locator("#admin-key-input").fill("sesame")
        await page.keyboard.press("Enter")
        await expect(page.locator("#quiz-title")).to_have_value("Locked quiz")
        await page.locator("#quiz-title").fill("Unlocked quiz")
        await page.keyboard.press("Control+S")
        await expect(page.locator("#save-state")).to_have_text("Saved (revision 2)")
        # Kept for the tab's life: a reload does not ask again.
        await page.reload()
        await expect(page.locator("#quiz-title")).to_have_value("Unlocked quiz")
        await expect(dialog).to_have_count(0)
        assert (await stored(server, quiz_id, key="sesame"))["document"]["title"] == "Unlocked quiz"
        assert opened.errors == []
    finally:
        await opened.close()
        await server.stop()


# ---------------------------------------------------------------- how it looks


@pytest.mark.parametrize(
    ("label", "device"),
    [("320", PHONE_320), ("390", PHONE), ("1280x720", SCREEN_720), ("1920x1080", BIG_SCREEN)],
)
async def test_screenshots_of_the_library_and_the_editor(pages, live_server, label, device):
    quiz_id = await make_quiz(live_server, "Screenshot quiz")
    async with aiohttp.ClientSession() as http:
        document = {"title": "Every type", "questions": QUESTIONS}
        async with http.post(f"{live_server.base_url}/api/quizzes", json=document) as response:
            every_id = (await response.json())["quiz_id"]
    library = await pages.open("/quizzes", device, "library")
    await expect(library.locator(".library-title", has_text="Screenshot quiz")).to_be_visible()
    await screenshot(library, f"library-{label}")
    editor = await pages.open(f"/quizzes/edit?id={every_id}", device, "editor")
    await expect(editor.locator(".question-card")).to_have_count(7)
    await editor.locator(".question-card").nth(4).locator("textarea").first.focus()
    await expect(editor.locator("#preview .slider-value")).to_be_visible()
    await screenshot(editor, f"editor-{label}")
    # As the screen shows it (the full-page shot above stretches the window).
    await editor.screenshot(path=str(OUTPUT_DIR / f"editor-screen-{label}.png"))
    # Nothing wider than the screen: no sideways scrolling on a phone.
    width = device["viewport"]["width"]
    for page in (library, editor):
        assert await page.evaluate("document.documentElement.scrollWidth") <= width
    new = await pages.open("/quizzes/edit", device, "new")
    await expect(new.locator("#quiz-title")).to_be_focused()
    await screenshot(new, f"editor-new-{label}")
    assert quiz_id
    assert pages.errors == []


async def test_the_library_and_editor_pages_and_their_files_are_served(live_server):
    """Needs no browser: both pages, every file they or their modules name, under the strict CSP."""
    kinds = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml"}
    async with aiohttp.ClientSession() as http:
        wanted = {"/quizzes": "text/html", "/quizzes/edit": "text/html"}
        seen: set[str] = set()
        while wanted:
            path, kind = wanted.popitem()
            seen.add(path)
            async with http.get(live_server.base_url + path) as response:
                assert (response.status, response.content_type) == (200, kind), path
                assert "script-src 'self';" in response.headers["Content-Security-Policy"], path
                text = await response.text()
            for ref in re.findall(r'(?:src|href)="(/static/[^"]+)"|from "\./([^"]+)"', text):
                linked = ref[0] or f"/static/{ref[1]}"
                if linked not in seen:
                    wanted[linked] = kinds[linked[linked.rindex(".") :]]
    assert {
        "/static/library.js",
        "/static/editor.js",
        "/static/editor-fields.js",
        "/static/editor-preview.js",
        "/static/quiz-api.js",
        "/static/questions.js",
        "/static/editor.css",
    } <= seen
