"""Results after the game in a real browser (issue 16, "Results").

A host (laptop) and two phones play a short quiz to the podium; then the host
page shows the report, whose scores are the ones the phones showed; the CSV and
XLSX downloads (clicked on the page, caught as Playwright downloads) open with
one row per player per question; each phone shows its own answers; the past
games page lists the game and opens its report. Screenshots of the report at
1280×720 and 1920×1080 and of a player's results at 320 and 390 px wide.
"""

from __future__ import annotations

import csv
import re

import openpyxl
import pytest

from quiz_actors.clock import SystemClock
from quiz_actors.settings import Settings
from tests.browser import CHROMIUM, CHROMIUM_ARGS, LAPTOP, PHONE, Pages, expect, require_browser, screenshot
from tests.conftest import RunningServer

QUIZ = {
    "title": "Report quiz",
    "questions": [
        {"text": "Which planet is the Red Planet?", "choices": ["Venus", "Mars", "Jupiter"], "correct": [1]},
        {"text": "Sound travels faster in water than in air.", "type": "true_false", "correct": True},
        {"text": "Capital of Spain?", "type": "type_answer", "accepted": ["Madrid"]},
    ],
}
SMALL_PHONE = {"viewport": {"width": 320, "height": 640}, "is_mobile": True, "has_touch": True}


@pytest.fixture
async def live_server(tmp_path):
    settings = Settings(store=f"sqlite:///{tmp_path}/events.sqlite3", progress_interval_s=0.05)
    running = await RunningServer(settings, SystemClock()).start()
    yield running
    await running.stop()


def points_in(text: str) -> int:
    return int(re.search(r"(\d+) points?", text).group(1))


async def join(player, code: str, name: str) -> None:
    await player.fill("#code", code)
    await player.fill("#name", name)
    await expect(player.locator("#join-button")).to_be_enabled()
    await player.click("#join-button")
    await expect(player.get_by_text("You're in!")).to_be_visible()


async def next_question(host) -> None:
    """The host's two steps after a reveal: the leaderboard, then the next question (or the podium)."""
    await host.click("#show-leaderboard")
    await expect(host.locator("#screen-leaderboard")).to_be_visible()
    await host.click("#next")


async def test_the_report_after_a_game_matches_the_scores_and_downloads(pages, live_server, http, tmp_path):
    async with http.post(live_server.base_url + "/api/quizzes", json=QUIZ) as response:
        assert response.status == 201
    host = await pages.open("/host", LAPTOP, "host")
    await host.get_by_label(re.compile("Report quiz")).check()
    await host.fill("#host-name", "Ms Host")
    await host.click("#create-button")
    await expect(host.locator("#room-code")).to_be_visible()
    code = await host.locator("#room-code").get_attribute("data-code")
    ann = await pages.open("/", PHONE, "ann")
    await join(ann, code, "Ann")
    ben = await pages.open("/", SMALL_PHONE, "ben")
    await join(ben, code, "Ben Long-Surname-Here")
    await expect(host.locator("#player-count")).to_have_text("2 players")

    # Q1: Ann right, Ben wrong. Q2: both right. Q3: Ann types it right, Ben wrong.
    await host.click("#start")
    await ann.locator("#q-choices button", has_text="Mars").click()
    await ben.locator("#q-choices button", has_text="Venus").click()
    await expect(ann.locator("#r-verdict")).to_have_text("Correct!")
    await next_question(host)
    for phone in (ann, ben):
        await expect(phone.locator("#q-number")).to_have_text("Question 2 of 3")
        await phone.locator("#q-choices button", has_text="True").click()
    await expect(ben.locator("#r-verdict")).to_have_text("Correct!")
    await next_question(host)
    for phone, typed in ((ann, "madrid"), (ben, "Barcelona")):
        await expect(phone.locator("#q-number")).to_have_text("Question 3 of 3")
        await phone.locator("#q-choices input").fill(typed)
        await phone.locator("#q-choices input").press("Enter")
    await expect(ann.locator("#r-verdict")).to_have_text("Correct!")
    await host.click("#show-leaderboard")
    await expect(host.locator("#next")).to_have_text("Show the podium")
    await host.click("#next")

    # Each phone: the podium, then its own answers.
    scores = {}
    for phone, name in ((ann, "Ann"), (ben, "Ben Long-Surname-Here")):
        await expect(phone.locator("#e-score")).to_have_text(re.compile(r"\d+ points?"))
        scores[name] = points_in(await phone.locator("#e-score").inner_text())
        await expect(phone.locator("#e-mine .my-answers li")).to_have_count(3)
    assert scores["Ann"] > scores["Ben Long-Surname-Here"] > 0
    await expect(ann.locator("#e-mine li.right")).to_have_count(3)
    await expect(ben.locator("#e-mine li.right")).to_have_count(1)
    await expect(ben.locator("#e-mine li").nth(0)).to_contain_text("Venus")
    await expect(ben.locator("#e-mine li").nth(0)).to_contain_text('Right answer: "Mars"')
    await expect(ben.locator("#e-mine li").nth(2)).to_contain_text("Barcelona")
    ann_points = [int(t.strip("+")) for t in await ann.locator("#e-mine .points").all_inner_texts()]
    assert sum(ann_points) == scores["Ann"]
    await screenshot(ann, "results-player-390")
    await screenshot(ben, "results-player-320")
    assert await ben.evaluate("document.documentElement.scrollWidth") <= 320  # nothing wider than the phone

    # The host's report, below the podium: the ranking is the phones' scores.
    report = host.locator("#e-report .report")
    await expect(report).to_be_visible()
    await expect(report.locator(".report-ranking tbody tr")).to_have_text(
        [
            re.compile(rf"1st\s*Ann\s*{scores['Ann']}\s*3 of 3"),
            re.compile(rf"2nd\s*Ben Long-Surname-Here\s*{scores['Ben Long-Surname-Here']}\s*1 of 3"),
        ]
    )
    await expect(report.locator(".report-question")).to_have_count(3)
    await expect(report.locator(".report-question").nth(0)).to_contain_text("1 of 2 players right (50%)")
    await expect(report.locator(".report-question").nth(1)).to_contain_text("2 of 2 players right (100%)")
    await expect(report.locator(".hardest li").first).to_contain_text("Question 1")
    ben_answers = report.locator(".report-player", has_text="Ben Long-Surname-Here")
    await ben_answers.locator("summary").click()
    await expect(ben_answers.locator("tbody tr")).to_have_text(
        [
            re.compile(r"1\s*Venus\s*✘ wrong\s*0"),
            re.compile(r"2\s*True\s*✔ right\s*\d+"),
            re.compile(r"3\s*Barcelona\s*✘ wrong\s*0"),
        ]
    )
    await host.set_viewport_size({"width": 1280, "height": 720})
    await screenshot(host, "results-host-report-1280x720")
    await host.set_viewport_size({"width": 1920, "height": 1080})
    await screenshot(host, "results-host-report-1920x1080")

    # The downloads, clicked on the page, open with one row per player per question.
    async with host.expect_download() as caught:
        await report.locator("[data-download=csv]").click()
    download = await caught.value
    assert re.fullmatch(rf"quiz-{code}-\d{{4}}-\d\d-\d\d\.csv", download.suggested_filename)
    with open(await download.path(), encoding="utf-8-sig", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 2 * 3
    assert {(r["player"], r["score"]) for r in rows} == {(n, str(s)) for n, s in scores.items()}
    assert [(r["question"], r["answer"], r["result"]) for r in rows if r["player"] == "Ann"] == [
        ("1", "Mars", "right"),
        ("2", "True", "right"),
        ("3", "madrid", "right"),
    ]
    assert [int(r["points"]) for r in rows if r["player"] == "Ann"] == ann_points

    async with host.expect_download() as caught:
        await report.locator("[data-download=xlsx]").click()
    download = await caught.value
    assert download.suggested_filename.endswith(".xlsx")
    saved = tmp_path / download.suggested_filename
    await download.save_as(saved)
    book = openpyxl.load_workbook(saved)
    ranking = list(book["Ranking"].iter_rows(values_only=True))
    assert ranking[0][:3] == ("rank", "player", "score")
    assert [row[:3] for row in ranking[1:]] == [
        (1, "Ann", scores["Ann"]),
        (2, "Ben Long-Surname-Here", scores["Ben Long-Surname-Here"]),
    ]
    assert len(list(book["Answers"].iter_rows(values_only=True))) == 1 + 2 * 3
    questions = list(book["Questions"].iter_rows(values_only=True))
    assert [(row[0], row[9]) for row in questions[1:]] == [(1, 50.0), (2, 100.0), (3, 50.0)]

    # Past games: this browser hosted one game; it opens the same report.
    await host.set_viewport_size({"width": 1280, "height": 720})
    await host.goto(live_server.base_url + "/host/games")
    games = host.locator("#games li")
    await expect(games).to_have_count(1)
    await expect(games.first).to_contain_text("Report quiz")
    await expect(games.first).to_contain_text(f"room {code}")
    await expect(games.first).to_contain_text("2 players · finished")
    await screenshot(host, "results-past-games-1280x720")
    await games.first.get_by_role("button", name="Open report").click()
    await expect(host.locator("#game-report .report-ranking tbody tr")).to_have_count(2)
    await expect(host.locator("#game-report .report-ranking tbody tr").first).to_contain_text(
        str(scores["Ann"])
    )

    # A phone's browser hosted nothing: its past games list is empty, not someone else's.
    await ann.goto(live_server.base_url + "/host/games")
    await expect(ann.locator("#games-note")).to_have_text(
        "This browser has not hosted a game on this server yet."
    )
    assert pages.errors == []


async def test_the_admin_key_lists_every_hosts_games(browser_admin_server, http):
    server = browser_admin_server
    require_browser()
    from playwright.async_api import async_playwright

    from tests.client import QuizClient

    # Another host's room, opened over the socket.
    other = await QuizClient(http, server.ws_url).connect()
    await other.hello()
    quizzes = await (await http.get(server.base_url + "/api/quizzes")).json()
    created = await other.request(
        {
            "type": "create_room",
            "quiz_id": quizzes["quizzes"][0]["quiz_id"],
            "name": "Mr Other",
            "admin_key": "k3y",
        },
        "room_created",
    )
    assert created["type"] == "room_created", created
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        pages = Pages(chromium, server.base_url)
        try:
            host = await pages.open("/host", LAPTOP, "host")
            await host.locator("#admin-key").evaluate("(input) => input.closest('details').open = true")
            await host.fill("#admin-key", "k3y")
            await host.fill("#host-name", "Ms Host")
            await host.click("#create-button")
            await expect(host.locator("#room-code")).to_be_visible()
            code = await host.locator("#room-code").get_attribute("data-code")

            await host.goto(server.base_url + "/host/games")
            await expect(host.locator("#games li")).to_have_count(1)  # this browser's game only
            await expect(host.locator("#games li").first).to_contain_text(f"room {code}")
            await expect(host.locator("#games li").first).to_contain_text("not started")
            await host.locator("#admin summary").click()
            await host.fill("#admin-key", "wrong")
            await host.locator("#admin-form button").click()
            await expect(host.locator("#games-note")).to_contain_text("The admin key was not accepted")
            await host.fill("#admin-key", "k3y")
            await host.locator("#admin-form button").click()
            await expect(host.locator("#games li")).to_have_count(2)
            await expect(host.locator("#games-note")).to_have_text(
                "2 games: every host's games on this server, newest first."
            )
            await expect(host.locator("#games li").first).to_contain_text(f"room {code} · Ms Host")
            await expect(host.locator("#games li").nth(1)).to_contain_text(
                f"room {created['code']} · Mr Other"
            )
            # The admin opens the other host's report (nobody played it yet).
            await host.locator("#games li").nth(1).get_by_role("button", name="Open report").click()
            await expect(host.locator("#game-report .report")).to_contain_text("Nobody played.")
            assert pages.errors == []
        finally:
            await pages.close()
            await chromium.close()
            await other.close()


@pytest.fixture
async def browser_admin_server(tmp_path):
    settings = Settings(store=f"sqlite:///{tmp_path}/events.sqlite3", admin_key="k3y")
    running = await RunningServer(settings, SystemClock()).start()
    yield running
    await running.stop()
