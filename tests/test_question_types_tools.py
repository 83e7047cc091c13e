"""quiz-replay and quiz-audit on a game with one question of every type, on both stores.

The replay shows each answer's payload and verdict; ``--check`` re-scores every
answer and names each that does not add up; ``quiz-audit game`` reports per type.
"""

from __future__ import annotations

import json

from tests.conftest import create_room, join, upload_quiz
from tests.test_question_types_e2e import QUIZ, answer
from tests.test_replay_audit import RawEvents, audit, json_lines, replay, stored_room_events, version_of


async def play_every_type(connect, http, server, clock) -> dict:  # type: ignore[no-untyped-def]
    """Ann answers every question right at once; Ben wrong or half right 5 s later, but the slider (95)."""
    quiz_id = await upload_quiz(http, server, QUIZ)
    host = await connect()
    code, state = await create_room(host, quiz_id, "Host")
    ann, ben = await connect(), await connect()
    await join(ann, code, "Ann")
    await join(ben, code, "Ben")
    await host.send({"type": "start"})
    order_right: list[int] = []
    for index, (right, wrong) in enumerate(
        [
            ({"choice": 1}, {"choice": 0}),
            ({"choices": [0, 2]}, {"choices": [0]}),
            ({"choice": 1}, {"choice": 0}),
            ({"text": "  MADRID "}, {"text": "Barcelona"}),
            ({"value": 100}, {"value": 95}),
            (None, None),  # the order question: its right order depends on the shown shuffle
            ({"choice": 0}, {"choice": 2}),
        ]
    ):
        shown = await ann.expect("question_shown", index=index)
        if right is None:
            order_right = [shown["items"].index(item) for item in ["W", "X", "Y", "Z"]]
            right, wrong = {"order": order_right}, {"order": order_right[::-1]}
        await answer(ann, index, **right)
        clock.advance(5)
        await answer(ben, index, **wrong)
        await ann.expect("question_closed", index=index)
        await host.send({"type": "next"})
    await ann.expect("quiz_ended")
    await server.stop()
    return {"code": code, "room_id": state["room"]["room_id"], "ann": ann.user_id, "ben": ben.user_id}


async def test_replay_shows_payloads_and_verdicts_and_check_rescores_every_answer(
    connect, http, server, clock, store_url
):
    game = await play_every_type(connect, http, server, clock)
    text = (await replay(store_url, game["code"])).stdout
    for line in (
        'Q0: choice 1 "b" right, 1000 points, streak 1',
        'Q1 (multi): [0] "A" wrong, 0 points, streak 0',
        "Q2 (true_false): False right, 0 points, streak 3",  # points none: the streak still counts
        'Q3 (type_answer): "  MADRID " right, 1300 points, streak 4',
        "Q4 (slider): 95 right, 656 points, streak 1",  # 1000 × (1 − (5/20)/2) × 0.75
        'Q6 (poll): 0 "Red" not judged (a poll), 0 points, streak 6',
        'Q3 (type_answer) closed (all_answered): right answer "Madrid" or "Villa de Madrid", '
        "answers 1 right, wrong 'barcelona'×1",
        "Q4 (slider) closed (all_answered): right answer 100 ± 10, answers 95×1, 100×1",
        'Q5 (order) closed (all_answered): right answer "W" > "X" > "Y" > "Z"',
    ):
        assert line in text, (line, text)

    ok = await replay(store_url, game["code"], "--check")
    assert ok.stdout.splitlines()[-1] == "Re-scored 14 answers: each adds up"

    # Two answers that do not add up: Ben's slider answer given full points, his half answer marked right.
    stored = stored_room_events(store_url, game["room_id"])
    raw = RawEvents(store_url)
    slider_v = version_of(stored, "AnswerSubmitted", user_id=game["ben"], question=4)
    multi_v = version_of(stored, "AnswerSubmitted", user_id=game["ben"], question=1)
    originals = {v: raw.get(game["room_id"], v) for v in (slider_v, multi_v)}
    try:
        topic, state = originals[slider_v]
        raw.put(game["room_id"], slider_v, topic, {**state, "points": 1000})
        topic, state = originals[multi_v]
        raw.put(game["room_id"], multi_v, topic, {**state, "verdict": "right", "correct": True})
        failed = await replay(store_url, game["code"], "--check", expect=1)
        as_json = json_lines((await replay(store_url, game["code"], "--check", "--json", expect=1)).stdout)
    finally:
        for v, (topic, state) in originals.items():
            raw.put(game["room_id"], v, topic, state)
    assert failed.stdout.startswith(f"FAILED at event v{multi_v} AnswerSubmitted: marked right but")
    assert "Re-scored 14 answers; 2 do not add up:" in failed.stdout
    assert (
        f'v{multi_v} Q1 Ben ({game["ben"][:8]}): [0] "A": recorded right, 0 points, streak 0; '
        "the rules give wrong, 0 points, streak 0" in failed.stdout
    )
    assert (
        f"v{slider_v} Q4 Ben ({game['ben'][:8]}): 95: recorded right, 1000 points, streak 1; "
        "the rules give right, 656 points, streak 1" in failed.stdout
    )
    rescored = as_json[-1]
    assert rescored["kind"] == "rescore" and rescored["answers"] == 14
    assert [r["version"] for r in rescored["not_adding_up"]] == [multi_v, slider_v]


async def test_audit_game_reports_each_answer_and_each_type(connect, http, server, clock, store_url):
    game = await play_every_type(connect, http, server, clock)
    report = json.loads((await audit(store_url, "game", game["code"], "--json")).stdout)
    ben = [
        (a["question_type"], a["answer"], a["verdict"], a["points"])
        for a in report["answers"]
        if a["name"] == "Ben"
    ]
    assert ben == [
        ("choice", '0 "a"', "wrong", 0),
        ("multi", '[0] "A"', "wrong", 0),
        ("true_false", "True", "wrong", 0),
        ("type_answer", '"Barcelona"', "wrong", 0),
        ("slider", "95", "right", 656),
        ("order", '"Z" > "Y" > "X" > "W"', "wrong", 0),
        ("poll", '2 "Green"', "unjudged", 0),
    ]
    by_type = {t["question_type"]: t for t in report["by_type"]}
    assert list(by_type) == ["choice", "multi", "true_false", "type_answer", "slider", "order", "poll"]
    assert {k: by_type["slider"][k] for k in ("questions", "answers", "right", "wrong", "points")} == {
        "questions": 1,
        "answers": 2,
        "right": 2,
        "wrong": 0,
        "points": 1400 + 656,
    }
    assert (by_type["poll"]["unjudged"], by_type["poll"]["right"], by_type["poll"]["points"]) == (2, 0, 0)
    assert (by_type["multi"]["right"], by_type["multi"]["wrong"]) == (1, 1)
    text = (await audit(store_url, "game", game["code"])).stdout
    assert "By question type" in text and "type_answer" in text
