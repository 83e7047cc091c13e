"""One game with a question of every type, over real sockets, on SQLite and PostgreSQL.

Four players answer right, wrong, partly right (multi, order) and not at all;
every score, streak, distribution and rank is checked against the rule written
in docs/protocol.md ("Scoring", "Question types"), with the numbers worked out
by hand in the comments. The server restarts in the middle of the slider
question. The server's clock is a ManualClock, so answer times are exact.
"""

from __future__ import annotations

import json

from tests.conftest import create_room, join, upload_quiz

QUIZ = {
    "title": "Every type",
    "questions": [
        {"type": "choice", "text": "Pick b", "choices": ["a", "b", "c", "d"], "correct": [1]},
        {"type": "multi", "text": "Pick A and C", "choices": ["A", "B", "C", "D"], "correct": [0, 2]},
        {"type": "true_false", "text": "Two is odd.", "correct": False, "points": "none"},
        {
            "type": "type_answer",
            "text": "Capital of Spain?",
            "accepted": ["Madrid", "Villa de Madrid"],
            "ignore_accents": True,
        },
        {
            "type": "slider",
            "text": "Boils at?",
            "min": 0,
            "max": 200,
            "step": 5,
            "value": 100,
            "tolerance": 10,
        },
        {"type": "order", "text": "Alphabetical", "items": ["W", "X", "Y", "Z"], "points": "double"},
        {"type": "poll", "text": "Favourite?", "choices": ["Red", "Blue", "Green"]},
    ],
}
# Anything that would give an answer away before its question closes.
REVEAL_KEYS = {"correct", "distribution", "accepted", "value", "tolerance", "right_count", "wrong_answers"}


async def answer(client, question: int, **payload) -> dict:
    reply = await client.request({"type": "answer", "question": question, **payload}, "answer_accepted")
    assert reply["type"] == "answer_accepted", reply
    return reply


async def refused(client, question: int, **payload) -> dict:
    reply = await client.request({"type": "answer", "question": question, **payload}, "answer_accepted")
    assert reply["type"] == "error", reply
    return reply


def you(correct: bool, points: int, streak: int, score: int) -> dict:
    return {"correct": correct, "points": points, "streak": streak, "score": score}


async def closed_for(players: dict, index: int) -> dict:
    return {name: await client.expect("question_closed", index=index) for name, client in players.items()}


async def ranks_of(players: dict) -> dict:
    return {name: (await client.expect("leaderboard"))["you"]["rank"] for name, client in players.items()}


def keys_in(value) -> set:
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in keys_in(v)}
    if isinstance(value, list):
        return {k for v in value for k in keys_in(v)}
    return set()


def assert_nothing_revealed_before_close(client) -> int:
    """Every message a client got while a question was open; returns how many were checked."""
    checked, open_question = 0, False
    for message in client.received:
        kind = message["type"]
        if kind == "question_shown" or (kind == "state" and message["room"]["phase"] == "question"):
            open_question = True
        elif kind == "question_closed" or kind == "state":
            open_question = False
        if not open_question:
            continue
        checked += 1
        # A player's own answer comes back in its state (you.answer): that gives nothing away.
        if kind == "state" and "answer" in message["you"]:
            message = {**message, "you": {k: v for k, v in message["you"].items() if k != "answer"}}
        text = json.dumps(message).lower()
        assert not REVEAL_KEYS & keys_in(message), message
        assert "madrid" not in text, message
        question = message if kind == "question_shown" else message.get("room", {}).get("question") or {}
        assert question.get("items") != ["W", "X", "Y", "Z"], message
    return checked


async def test_one_question_of_each_type_scored_by_the_written_rule(connect, http, server, clock):
    quiz_id = await upload_quiz(http, server, QUIZ)
    host = await connect()
    code, _ = await create_room(host, quiz_id, "Host")
    players = {}
    for name in ("Ann", "Ben", "Cat", "Dan"):
        players[name] = await connect()
        await join(players[name], code, name)
    await host.expect("member_joined", count=5)
    ann, ben, cat, dan = players.values()
    seen = []  # every client that took part, for the final check of what was revealed when

    # ---- Q0 choice, standard, 20 s: Ann right at 0 s, Ben right at 10 s, Cat wrong, Dan silent.
    await host.send({"type": "start"})
    shown = await ann.expect("question_shown", index=0)
    assert (shown["question_type"], shown["points"], shown["choices"]) == (
        "choice",
        "standard",
        ["a", "b", "c", "d"],
    )
    await answer(ann, 0, choice=1)
    clock.advance(10)
    await answer(ben, 0, choice=1)
    await answer(cat, 0, choice=0)
    await host.request({"type": "next"}, "question_closed")
    closed = await closed_for(players, 0)
    assert (closed["Ann"]["correct"], closed["Ann"]["distribution"]) == ([1], [1, 2, 0, 0])
    # 1000 in the first 0.5 s; 1000 × (1 − (10/20)/2) = 750
    assert closed["Ann"]["you"] == you(True, 1000, 1, 1000)
    assert closed["Ben"]["you"] == you(True, 750, 1, 750)
    assert closed["Cat"]["you"] == you(False, 0, 0, 0)
    assert closed["Dan"]["you"] == you(False, 0, 0, 0)
    # Cat and Dan both have 0: Cat joined first, so reached it first.
    assert await ranks_of(players) == {"Ann": 1, "Ben": 2, "Cat": 3, "Dan": 4}

    # ---- Q1 multi, standard: Cat exactly right at 0 s, Ann exactly right at 5 s, Ben half, Dan too many.
    await host.send({"type": "next"})
    shown = await dan.expect("question_shown", index=1)
    assert (shown["question_type"], shown["choices"]) == ("multi", ["A", "B", "C", "D"])
    for bad in ({"choices": []}, {"choices": [0, 0]}, {"choices": [4]}, {"choice": 0}):
        assert (await refused(dan, 1, **bad))["code"] == "bad_answer"
    await answer(cat, 1, choices=[2, 0])
    clock.advance(5)
    await answer(ann, 1, choices=[0, 2])
    await answer(ben, 1, choices=[0])
    await answer(dan, 1, choices=[0, 1, 2])  # the refusals above changed nothing: Dan still answers
    closed = await closed_for(players, 1)
    assert closed["Ann"]["reason"] == "all_answered"
    assert (closed["Ann"]["correct"], closed["Ann"]["distribution"]) == ([0, 2], [4, 1, 3, 0])
    # 1000 × (1 − (5/20)/2) = 875, + 100 for a streak of 2
    assert closed["Ann"]["you"] == you(True, 975, 2, 1975)
    assert closed["Ben"]["you"] == you(False, 0, 0, 750)
    assert closed["Cat"]["you"] == you(True, 1000, 1, 1000)
    assert closed["Dan"]["you"] == you(False, 0, 0, 0)
    assert await ranks_of(players) == {"Ann": 1, "Cat": 2, "Ben": 3, "Dan": 4}

    # ---- Q2 true_false, points none, False (choice 1) is right: Ann and Dan right, Ben wrong, Cat silent.
    await host.send({"type": "next"})
    shown = await ann.expect("question_shown", index=2)
    assert (shown["question_type"], shown["points"], shown["choices"]) == (
        "true_false",
        "none",
        ["True", "False"],
    )
    assert (await refused(ann, 2, choice=2))["code"] == "bad_choice"
    await answer(ann, 2, choice=1)
    await answer(ben, 2, choice=0)
    await answer(dan, 2, choice=1)
    await host.request({"type": "next"}, "question_closed")
    closed = await closed_for(players, 2)
    assert (closed["Ann"]["correct"], closed["Ann"]["distribution"]) == ([1], [1, 2])
    # A none question earns nothing but counts for the streak; a missing answer resets it.
    assert closed["Ann"]["you"] == you(True, 0, 3, 1975)
    assert closed["Ben"]["you"] == you(False, 0, 0, 750)
    assert closed["Cat"]["you"] == you(False, 0, 0, 1000)
    assert closed["Dan"]["you"] == you(True, 0, 1, 0)
    assert await ranks_of(players) == {"Ann": 1, "Cat": 2, "Ben": 3, "Dan": 4}

    # ---- Q3 type_answer: Ann "  MADRID " at 0 s, Cat "mádrid" at 10 s (no accents), Ben and Dan Barcelona.
    await host.send({"type": "next"})
    shown = await ann.expect("question_shown", index=3)
    assert (shown["question_type"], shown["choices"], shown["max_length"]) == ("type_answer", [], 40)
    assert (await refused(ben, 3, text="  ")).get("code") == "bad_answer"
    assert (await refused(ben, 3, text="x" * 41)).get("code") == "bad_answer"
    assert (await refused(ben, 3, choice=0)).get("code") == "bad_answer"
    await answer(ann, 3, text="  MADRID ")
    await answer(ben, 3, text="Barcelona")
    await answer(dan, 3, text="barcelona ")
    clock.advance(10)
    await answer(cat, 3, text="mádrid")
    closed = await closed_for(players, 3)
    reveal = closed["Ann"]
    assert (reveal["question_type"], reveal["correct"], reveal["distribution"]) == ("type_answer", [], [])
    assert reveal["accepted"] == ["Madrid", "Villa de Madrid"]
    assert (reveal["right_count"], reveal["wrong_answers"]) == (2, [{"text": "barcelona", "count": 2}])
    assert closed["Ann"]["you"] == you(True, 1000 + 300, 4, 3275)  # streak 4: +300
    assert closed["Ben"]["you"] == you(False, 0, 0, 750)
    assert closed["Cat"]["you"] == you(True, 750, 1, 1750)
    assert closed["Dan"]["you"] == you(False, 0, 0, 0)
    assert await ranks_of(players) == {"Ann": 1, "Cat": 2, "Ben": 3, "Dan": 4}

    # ---- Q4 slider 0–200 step 5, right 100 ± 10: Ann 100 and Ben 95 at 0 s, then the server restarts.
    await host.send({"type": "next"})
    shown = await ann.expect("question_shown", index=4)
    assert (shown["question_type"], shown["min"], shown["max"], shown["step"]) == ("slider", 0, 200, 5)
    for bad in ({"value": 102}, {"value": 201}, {"value": -5}, {"order": [0]}):
        assert (await refused(dan, 4, **bad))["code"] == "bad_answer"
    assert (await refused(dan, 4, value="100"))["code"] == "bad_message"
    await answer(ann, 4, value=100)
    await answer(ben, 4, value=95)
    seen += [host, *players.values()]

    await server.restart()
    host = await connect(token=host.token)
    await join(host, code, "Host")
    for name in list(players):
        players[name] = await connect(token=players[name].token)
        state = await join(players[name], code, name)
        assert state["room"]["phase"] == "question"
        assert state["you"]["answered"] is (name in ("Ann", "Ben"))
        assert state["room"]["question"]["question_type"] == "slider"
    ann, ben, cat, dan = players.values()
    assert (await refused(ann, 4, value=150))["code"] == "already_answered"
    clock.advance(4)
    await answer(cat, 4, value=110)
    await answer(dan, 4, value=150)
    closed = await closed_for(players, 4)
    reveal = closed["Ann"]
    assert reveal["reason"] == "all_answered"
    assert (reveal["value"], reveal["tolerance"], reveal["right_count"]) == (100, 10, 3)
    assert reveal["answers"] == [
        {"value": 95, "count": 1},
        {"value": 100, "count": 1},
        {"value": 110, "count": 1},
        {"value": 150, "count": 1},
    ]
    # Closeness 1 − distance / (2 × 10): 100 → 1, 95 → 0.75, 110 → 0.5 (the edge is inside).
    assert closed["Ann"]["you"] == you(True, 1000 + 400, 5, 4675)
    assert closed["Ben"]["you"] == you(True, 750, 1, 1500)  # 1000 × 0.75
    assert closed["Cat"]["you"] == you(True, 450 + 100, 2, 2300)  # 1000 × (1 − (4/20)/2) × 0.5 = 450
    assert closed["Dan"]["you"] == you(False, 0, 0, 0)
    assert await ranks_of(players) == {"Ann": 1, "Cat": 2, "Ben": 3, "Dan": 4}

    # ---- Q5 order, double: Ann right at 0 s, Ben with the first two swapped, Cat right at 10 s, Dan silent.
    await host.send({"type": "next"})
    shown = await ann.expect("question_shown", index=5)
    assert shown["question_type"] == "order" and sorted(shown["items"]) == ["W", "X", "Y", "Z"]
    right = [shown["items"].index(item) for item in ["W", "X", "Y", "Z"]]
    for bad in (right[:3], right[:3] + right[:1], right + [4], [True, 1, 2, 3]):
        assert (await refused(dan, 5, order=bad))["code"] == "bad_answer"
    swapped = [right[1], right[0], right[2], right[3]]
    await answer(ann, 5, order=right)
    await answer(ben, 5, order=swapped)
    clock.advance(10)
    await answer(cat, 5, order=right)
    await host.request({"type": "next"}, "question_closed")
    closed = await closed_for(players, 5)
    assert closed["Ann"]["correct"] == right
    placed = [0, 0, 0, 0]  # per shown item: players who put it in its right place
    for order in (right, swapped, right):
        for position, item in enumerate(order):
            placed[item] += right[position] == item
    assert closed["Ann"]["distribution"] == placed and sorted(placed) == [2, 2, 3, 3]
    assert closed["Ann"]["you"] == you(True, 2000 + 500, 6, 7175)  # the bonus stops at 500
    assert closed["Ben"]["you"] == you(False, 0, 0, 1500)  # two of four in place is wrong
    assert closed["Cat"]["you"] == you(True, 1500 + 200, 3, 4000)  # 2000 × 0.75, streak 3
    assert closed["Dan"]["you"] == you(False, 0, 0, 0)
    assert await ranks_of(players) == {"Ann": 1, "Cat": 2, "Ben": 3, "Dan": 4}

    # ---- Q6 poll: Ann Red, Ben and Dan Blue, Cat silent. Nobody's streak moves.
    await host.send({"type": "next"})
    shown = await ann.expect("question_shown", index=6)
    assert (shown["question_type"], shown["points"]) == ("poll", "none")
    await answer(ann, 6, choice=0)
    await answer(ben, 6, choice=1)
    await answer(dan, 6, choice=1)
    await host.request({"type": "next"}, "question_closed")
    closed = await closed_for(players, 6)
    assert (closed["Ann"]["correct"], closed["Ann"]["distribution"]) == ([], [1, 2, 0])
    assert closed["Ann"]["you"] == you(False, 0, 6, 7175)
    assert closed["Ben"]["you"] == you(False, 0, 0, 1500)
    assert closed["Cat"]["you"] == you(False, 0, 3, 4000)  # no answer to a poll: the streak stays
    assert closed["Dan"]["you"] == you(False, 0, 0, 0)

    await host.send({"type": "next"})
    ended = await ann.expect("quiz_ended")
    assert [(p["name"], p["score"]) for p in ended["podium"]] == [("Ann", 7175), ("Cat", 4000), ("Ben", 1500)]
    ben_above = {"user_id": ben.user_id, "name": "Ben", "score": 1500}
    assert (await dan.expect("quiz_ended"))["you"] == {"rank": 4, "score": 0, "ahead": ben_above}

    seen += [host, *players.values()]
    assert sum(assert_nothing_revealed_before_close(client) for client in seen) > 40
