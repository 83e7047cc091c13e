"""The host's steps around a question, over real sockets on both stores (issue 16):
the get-ready phase before answers open, and the leaderboard as a step of its own
after the reveal.

The server's clock is a ManualClock, so "before the answers open", "the moment
they open" and "the deadline" are exact.
"""

from __future__ import annotations

import pytest

from tests.conftest import answer, create_room, join, upload_quiz

GET_READY_QUIZ = {
    "title": "Read first",
    "get_ready_s": 4,
    "questions": [
        {"text": "One?", "choices": ["a", "b"], "correct": [0], "time_limit_s": 20},
        {"text": "Two?", "choices": ["a", "b"], "correct": [1], "time_limit_s": 10},
        {"text": "Three?", "choices": ["a", "b"], "correct": [1], "time_limit_s": 10},
    ],
}


async def room_with_players(connect, http, server, quiz, names=("Ann", "Ben")):
    quiz_id = await upload_quiz(http, server, quiz)
    host = await connect()
    code, _ = await create_room(host, quiz_id, "Host")
    players = []
    for name in names:
        player = await connect()
        await join(player, code, name)
        players.append(player)
    await host.expect("member_joined", count=len(names))
    return host, players, code


async def test_answers_open_after_get_ready_and_points_count_from_then(connect, http, server, clock):
    host, (ann, ben), _ = await room_with_players(connect, http, server, GET_READY_QUIZ)
    shown_at = clock.now_ms()
    await host.send({"type": "start"})
    shown = await ann.expect("question_shown", index=0)
    # The phones get the question at once; its answers open 4 s later, and its 20 s run from then.
    assert shown["text"] == "One?"
    assert shown["opens_ms"] == shown_at + 4000
    assert shown["deadline_ms"] == shown_at + 4000 + 20_000
    assert shown["time_limit_ms"] == 20_000

    early = await answer(ann, 0, 0)
    assert early["type"] == "error" and early["code"] == "not_open_yet"
    assert early["message"] == "Answers open in 4 s: read the question first, then answer"
    clock.advance(3.5)
    still_early = await answer(ann, 0, 0)
    assert still_early["code"] == "not_open_yet" and "open in 1 s" in still_early["message"]

    clock.advance(0.5)  # the answers open now
    assert (await answer(ann, 0, 0))["type"] == "answer_accepted"  # a refused answer left Ann free to answer
    clock.advance(10)
    assert (await answer(ben, 0, 0))["type"] == "answer_accepted"
    closed = await ann.expect("question_closed", index=0)
    # Full points at once after opening (the 4 s of reading do not count), 750 halfway through.
    assert closed["you"]["points"] == 1000
    assert (await ben.expect("question_closed", index=0))["you"]["points"] == 750


async def test_a_quiz_without_get_ready_s_takes_the_servers_default(connect, http, server, clock):
    # conftest's server sets --get-ready-s 0 for the tests that are not about it: answers open at once.
    quiz = {k: v for k, v in GET_READY_QUIZ.items() if k != "get_ready_s"}
    host, (ann, _), _ = await room_with_players(connect, http, server, quiz)
    await host.send({"type": "start"})
    shown = await ann.expect("question_shown", index=0)
    assert shown["opens_ms"] == clock.now_ms()
    assert (await answer(ann, 0, 0))["type"] == "answer_accepted"


async def test_a_restart_during_get_ready_keeps_its_times(connect, http, server, clock):
    host, (ann, ben), code = await room_with_players(connect, http, server, GET_READY_QUIZ)
    tokens = {c: c.token for c in (host, ann, ben)}
    await host.send({"type": "start"})
    shown = await ann.expect("question_shown", index=0)
    clock.advance(1)

    await server.restart()  # 3 s before the answers open

    ann_back = await connect(token=tokens[ann])
    state = await join(ann_back, code, "Ann")
    question = state["room"]["question"]
    assert state["room"]["phase"] == "question"
    assert (question["opens_ms"], question["deadline_ms"]) == (shown["opens_ms"], shown["deadline_ms"])
    ben_back = await connect(token=tokens[ben])
    await join(ben_back, code, "Ben")
    refused = await answer(ann_back, 0, 0)
    assert refused["code"] == "not_open_yet" and "open in 3 s" in refused["message"]
    clock.advance(3)
    assert (await answer(ann_back, 0, 0))["type"] == "answer_accepted"
    # Ben does not answer: the deadline, armed again from the stored event, closes the question.
    clock.advance(19.9)
    await ann_back.drain(0.3)
    assert not ann_back.of_type("question_closed")
    clock.advance(0.1)
    closed = await ann_back.expect("question_closed", index=0)
    assert closed["reason"] == "timeout"
    assert closed["you"]["points"] == 1000  # answered the moment the answers opened


async def test_the_leaderboard_is_a_step_of_its_own_after_the_reveal(connect, http, server, clock):
    questions = [dict(q) for q in GET_READY_QUIZ["questions"]]
    questions[1]["points"] = "double"
    quiz = {**GET_READY_QUIZ, "get_ready_s": 0, "questions": questions}
    host, (ann, ben, cat), code = await room_with_players(connect, http, server, quiz, ("Ann", "Ben", "Cat"))
    await host.send({"type": "start"})
    await ann.expect("question_shown", index=0)

    # Question 0: only Ben right. Cat does not answer.
    assert (await answer(ann, 0, 1))["type"] == "answer_accepted"
    assert (await answer(ben, 0, 0))["type"] == "answer_accepted"
    await host.request({"type": "next"}, "question_closed")
    # Nobody can ask for it but the host, and only after a close.
    refused = await ann.request({"type": "show_leaderboard"}, "leaderboard_shown")
    assert refused["code"] == "not_host"
    board = await host.request({"type": "show_leaderboard"}, "leaderboard_shown")
    # Zero scores are left off: Ann and Cat have none.
    assert [(r["rank"], r["name"], r["rank_before"], r["moved"]) for r in board["top"]] == [
        (1, "Ben", None, 0)
    ]
    assert board["index"] == 0
    for player in (ann, ben, cat):  # everyone hears it, as a change of the room
        heard = await player.expect("leaderboard_shown")
        assert heard["seq"] == board["seq"] and heard["top"] == board["top"]
    again = await host.request({"type": "show_leaderboard"}, "leaderboard_shown")
    assert again["code"] == "wrong_phase" and again["message"] == "The leaderboard is already shown"

    # A reloaded host page finds the step in its state.
    state = await host.request({"type": "resync"}, "state")
    assert state["room"]["phase"] == "reveal"
    assert state["room"]["leaderboard"] == {"index": 0, "top": board["top"]}

    # Question 1 (double): Ann and Cat right and fast, Ben wrong: Ben drops from 1st to 3rd.
    await host.send({"type": "next"})
    await ann.expect("question_shown", index=1)
    state = await host.request({"type": "resync"}, "state")
    assert state["room"]["leaderboard"] is None
    assert (await answer(ann, 1, 1))["type"] == "answer_accepted"
    assert (await answer(cat, 1, 1))["type"] == "answer_accepted"
    clock.advance(5)
    assert (await answer(ben, 1, 0))["type"] == "answer_accepted"
    await host.expect("question_closed", index=1)
    board = await host.request({"type": "show_leaderboard"}, "leaderboard_shown")
    rows = [(r["rank"], r["name"], r["score"], r["rank_before"], r["moved"]) for r in board["top"]]
    assert rows == [(1, "Ann", 2000, None, 0), (2, "Cat", 2000, None, 0), (3, "Ben", 1000, 1, -2)]

    # An old client that never asks for the leaderboard goes on from the reveal with next.
    await host.send({"type": "next"})
    await ann.expect("question_shown", index=2)
    await host.request({"type": "next"}, "question_closed")
    await host.send({"type": "next"})
    ended = await ann.expect("quiz_ended")
    assert [r["name"] for r in ended["podium"]] == ["Ann", "Cat", "Ben"]


async def test_the_leaderboard_step_survives_a_restart(connect, http, server, clock):
    quiz = {**GET_READY_QUIZ, "get_ready_s": 0}
    host, (ann, _), code = await room_with_players(connect, http, server, quiz)
    await host.send({"type": "start"})
    await ann.expect("question_shown", index=0)
    assert (await answer(ann, 0, 0))["type"] == "answer_accepted"
    await host.request({"type": "next"}, "question_closed")
    board = await host.request({"type": "show_leaderboard"}, "leaderboard_shown")
    token = host.token

    await server.restart()

    host_back = await connect(token=token)
    state = await join(host_back, code, "Host")
    assert state["room"]["leaderboard"] == {"index": 0, "top": board["top"]}


@pytest.mark.parametrize("bad", [31, -1, 2.5, "3", True])
async def test_a_get_ready_time_that_cannot_work_is_refused_in_plain_words(http, server, bad):
    async with http.post(
        server.base_url + "/api/quizzes", json={**GET_READY_QUIZ, "get_ready_s": bad}
    ) as response:
        assert response.status == 400
        details = (await response.json())["error"]["details"]
    assert details == ["get_ready_s: must be a whole number of seconds from 0 to 30"]
