"""Game reports over real HTTP, on both stores (issue 16, "Results").

A game is played over real sockets with a ManualClock (so every score is
exact); then the report, its CSV and XLSX, the past games list and a player's
own results are fetched as the host, the admin, a player and a stranger would.
Only the host (by the session token it got in ``welcome``) and the admin (by
``--admin-key``) get the report; a player gets their own answers; nobody else
gets anything. A player named like a spreadsheet formula comes out as text.
"""

from __future__ import annotations

import csv
import io
import json
import uuid
import zipfile

import openpyxl
import pytest

from quiz_actors.settings import Settings
from tests.conftest import DEMO_QUIZ, THREE_QUESTIONS, answer, join

ADMIN_KEY = "teacher-admin-key"
FORMULA_NAME = '=HYPERLINK("//evil.io")'  # 23 characters: a name the server accepts
assert len(FORMULA_NAME) <= 24


@pytest.fixture
def settings(store_url):
    return Settings(
        store=store_url,
        hello_timeout_s=10,
        progress_interval_s=0.05,
        player_messages_per_s=1000,
        player_burst=1000,
        admin_key=ADMIN_KEY,
        get_ready_s=0,  # these clients answer the moment a question is shown
    )


def bearer(credential: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {credential}"}


async def get(http, server, path: str, credential: str | None = None):
    headers = bearer(credential) if credential is not None else {}
    async with http.get(server.base_url + path, headers=headers) as response:
        body = await response.read()
        return response.status, response.headers, body


async def play(connect, http, server, clock, finish: bool = True):
    """Ann and the formula-named player play THREE_QUESTIONS; returns the clients and what they saw."""
    async with http.post(
        server.base_url + "/api/quizzes", json=THREE_QUESTIONS, headers=bearer(ADMIN_KEY)
    ) as r:
        assert r.status == 201, await r.text()
        quiz_id = (await r.json())["quiz_id"]
    host = await connect()
    created = await host.request(
        {"type": "create_room", "quiz_id": quiz_id, "name": "Ms Host", "admin_key": ADMIN_KEY}, "room_created"
    )
    assert created["type"] == "room_created", created
    code, room_id = created["code"], created["room_id"]
    ann, eve = await connect(), await connect()
    await join(ann, code, "Ann")
    await join(eve, code, FORMULA_NAME)
    await host.expect("member_joined", count=3)

    await host.send({"type": "start"})  # Q1 (standard): Ann right after 2 s, Eve wrong
    for c in (host, ann, eve):
        await c.expect("question_shown", index=0)
    clock.advance(2)
    await answer(ann, 0, 1)
    await answer(eve, 0, 0)
    for c in (host, ann, eve):
        await c.expect("question_closed", index=0)
    await host.send({"type": "next"})  # Q2 (double): Ann right at once, Eve silent; the host closes it
    for c in (host, ann, eve):
        await c.expect("question_shown", index=1)
    await answer(ann, 1, 0)
    clock.advance(1)
    await host.send({"type": "next"})
    for c in (host, ann, eve):
        await c.expect("question_closed", index=1)
    await host.send({"type": "next"})  # Q3 (no points): both right
    for c in (host, ann, eve):
        await c.expect("question_shown", index=2)
    await answer(ann, 2, 2)
    await answer(eve, 2, 2)
    for c in (host, ann, eve):
        await c.expect("question_closed", index=2)
    ended = {}
    if finish:
        await host.send({"type": "next"})
        ended = {name: await c.expect("quiz_ended") for name, c in (("ann", ann), ("eve", eve))}
    return host, ann, eve, code, room_id, ended


async def test_the_host_gets_the_report_matching_the_game(connect, http, server, clock):
    host, ann, eve, code, room_id, ended = await play(connect, http, server, clock)
    status, headers, body = await get(http, server, f"/api/games/{room_id}/report", host.token)
    assert status == 200, body
    assert headers["Cache-Control"] == "no-store"
    report = json.loads(body)
    assert (report["code"], report["title"], report["finished"]) == (code, "Three questions", True)
    # The ranking is the scores the players saw at the end.
    assert [(r["name"], r["score"], r["rank"]) for r in report["ranking"]] == [
        ("Ann", ended["ann"]["you"]["score"], ended["ann"]["you"]["rank"]),
        (FORMULA_NAME, ended["eve"]["you"]["score"], ended["eve"]["you"]["rank"]),
    ]
    assert ended["ann"]["you"]["score"] == 950 + 2000 + 100  # 2 s of 20: 950; at once (double) + streak
    q1, q2, q3 = report["questions"]
    assert (q1["players"], q1["right"], q1["wrong"], q1["no_answer"], q1["accuracy"]) == (2, 1, 1, 0, 0.5)
    assert q1["answers"] == [
        {"answer": "a", "result": "wrong", "count": 1},
        {"answer": "b", "result": "right", "count": 1},
    ]
    assert q1["reveal"]["distribution"] == [1, 1, 0, 0] and q1["reveal"]["correct"] == [1]
    assert (q2["right"], q2["no_answer"], q3["accuracy"]) == (1, 1, 1.0)
    assert [(h["number"], h["accuracy"]) for h in report["hardest"]] == [
        (1, 0.5),
        (2, 0.5),
    ]  # not Q3: all right
    eve_row = next(p for p in report["players"] if p["name"] == FORMULA_NAME)
    assert [(a["number"], a["answer"], a["result"], a["points"]) for a in eve_row["answers"]] == [
        (1, "a", "wrong", 0),
        (2, None, "no_answer", 0),
        (3, "c", "right", 0),
    ]

    # The same game by its code, and as the admin.
    status, _, by_code = await get(http, server, f"/api/games/{code}/report", host.token)
    assert status == 200 and json.loads(by_code)["room_id"] == room_id
    status, _, as_admin = await get(http, server, f"/api/games/{room_id}/report", ADMIN_KEY)
    assert status == 200 and json.loads(as_admin)["ranking"] == report["ranking"]


async def test_csv_and_xlsx_hold_every_answer_and_no_formula(connect, http, server, clock):
    host, ann, eve, code, room_id, ended = await play(connect, http, server, clock)
    status, headers, body = await get(http, server, f"/api/games/{room_id}/report.csv", host.token)
    assert status == 200
    assert headers["Content-Type"].startswith("text/csv")
    assert f'filename="quiz-{code}-' in headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert rows[0][:3] == ["rank", "player", "score"]
    assert len(rows) == 1 + 2 * 3  # two players, three questions
    eve_rows = [r for r in rows[1:] if r[1] != "Ann"]
    # The formula is text: a spreadsheet shows the name, it does not evaluate it.
    assert {r[1] for r in eve_rows} == {"'" + FORMULA_NAME}
    assert [r[6:9] for r in eve_rows] == [["a", "wrong", "0"], ["", "no answer", "0"], ["c", "right", "0"]]
    ann_rows = [r for r in rows[1:] if r[1] == "Ann"]
    assert [int(r[8]) for r in ann_rows] == [950, 2100, 0]
    assert {r[2] for r in ann_rows} == {str(ended["ann"]["you"]["score"])}

    status, headers, body = await get(http, server, f"/api/games/{room_id}/report.xlsx", host.token)
    assert status == 200
    assert headers["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    book = openpyxl.load_workbook(io.BytesIO(body))
    assert book.sheetnames == ["Ranking", "Questions", "Answers"]
    answers = list(book["Answers"].iter_rows(values_only=True))
    assert len(answers) == 1 + 2 * 3
    names = [cell for cell in book["Answers"]["B"][1:]]
    eve_cells = [c for c in names if c.value != "Ann"]
    assert {c.value for c in eve_cells} == {FORMULA_NAME}
    assert {c.data_type for c in eve_cells} == {"s"}  # a string, not a formula ("f")
    ranking = list(book["Ranking"].iter_rows(values_only=True))
    assert ranking[1][:3] == (1, "Ann", ended["ann"]["you"]["score"])
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        for name in archive.namelist():
            if name.startswith("xl/worksheets/"):
                assert b"<f>" not in archive.read(name) and b"<f " not in archive.read(name), name


async def test_strangers_and_players_do_not_get_the_report(connect, http, server, clock):
    host, ann, eve, code, room_id, _ = await play(connect, http, server, clock)
    stranger = await connect()
    for suffix in ("report", "report.csv", "report.xlsx"):
        path = f"/api/games/{room_id}/{suffix}"
        status, headers, body = await get(http, server, path)
        assert status == 401 and b"admin key" in body and "WWW-Authenticate" in headers
        assert (await get(http, server, path, "not-a-token"))[0] == 401
        assert (await get(http, server, path, host.token + "x"))[0] == 401  # a forged signature
        assert (await get(http, server, path, ADMIN_KEY + "x"))[0] == 401
        for who in (ann, stranger):
            status, _, body = await get(http, server, path, who.token)
            assert status == 403 and b"Only the host" in body
            assert b"Ann" not in body and b"HYPERLINK" not in body
        status, _, _ = await get(http, server, f"/api/games/{code}/{suffix}", stranger.token)
        assert status == 403
    assert (await get(http, server, f"/api/games/{uuid.uuid4()}/report", ADMIN_KEY))[0] == 404
    assert (await get(http, server, "/api/games/999999/report", ADMIN_KEY))[0] in (403, 404)
    status, _, body = await get(http, server, "/api/games/nonsense/report", ADMIN_KEY)
    assert status == 400 and b"6-digit code" in body
    # A quiz's id is no game.
    quizzes = await (await http.get(server.base_url + "/api/quizzes")).json()
    quiz_id = quizzes["quizzes"][0]["quiz_id"]
    assert (await get(http, server, f"/api/games/{quiz_id}/report", ADMIN_KEY))[0] == 404


async def test_past_games_list_each_hosts_own_and_every_game_for_the_admin(connect, http, server, clock):
    host, ann, eve, code, room_id, _ = await play(connect, http, server, clock)
    assert (await get(http, server, "/api/games"))[0] == 401
    status, _, body = await get(http, server, "/api/games", host.token)
    assert status == 200
    listed = json.loads(body)
    assert listed["all_hosts"] is False
    assert [(g["room_id"], g["code"], g["title"], g["players"]) for g in listed["games"]] == [
        (room_id, code, "Three questions", 2)
    ]
    assert listed["games"][0]["ended_at_ms"] is not None
    # Another host's game is not in this host's list, and a player hosted nothing.
    other = await connect()
    created = await other.request(
        {"type": "create_room", "quiz_id": DEMO_QUIZ, "name": "Mr Other", "admin_key": ADMIN_KEY},
        "room_created",
    )
    assert created["type"] == "room_created", created
    assert [
        g["room_id"] for g in json.loads((await get(http, server, "/api/games", host.token))[2])["games"]
    ] == [room_id]
    assert json.loads((await get(http, server, "/api/games", ann.token))[2])["games"] == []
    everything = json.loads((await get(http, server, "/api/games", ADMIN_KEY))[2])
    assert everything["all_hosts"] is True
    assert [(g["room_id"], g["host_name"]) for g in everything["games"]] == [
        (created["room_id"], "Mr Other"),
        (room_id, "Ms Host"),
    ]


async def test_a_player_gets_only_their_own_results_at_the_end(connect, http, server, clock):
    host, ann, eve, code, room_id, _ = await play(connect, http, server, clock, finish=False)
    path = f"/api/games/{room_id}/results/me"
    status, _, body = await get(http, server, path, ann.token)
    assert status == 409 and b"still going" in body
    await host.send({"type": "next"})
    await ann.expect("quiz_ended")
    status, _, body = await get(http, server, path, ann.token)
    assert status == 200, body
    mine = json.loads(body)
    assert (mine["name"], mine["rank"], mine["score"]) == ("Ann", 1, 3050)
    assert [(a["number"], a["answer"], a["result"], a["points"]) for a in mine["answers"]] == [
        (1, "b", "right", 950),
        (2, "a", "right", 2100),
        (3, "c", "right", 0),
    ]
    assert b"HYPERLINK" not in body  # nothing of the other player
    status, _, body = await get(http, server, path, eve.token)
    assert status == 200 and json.loads(body)["answers"][1]["result"] == "no_answer"
    stranger = await connect()
    assert (await get(http, server, path, stranger.token))[0] == 403
    assert (await get(http, server, path, host.token))[0] == 403  # the host did not play
    assert (await get(http, server, path, ADMIN_KEY))[0] == 400
    assert (await get(http, server, path))[0] == 401
