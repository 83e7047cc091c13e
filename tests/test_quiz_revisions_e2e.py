"""A game pins the quiz revision it started with: editing the quiz mid-game changes nothing in it.

Over real sockets: a room plays revision 1 while the quiz is revised to 2; a
room created after plays revision 2; the replay and the audit reports say which
revision each room played, and an archived quiz's games keep their reports.
"""

from __future__ import annotations

import json

from tests.conftest import create_room, join, upload_quiz
from tests.test_replay_audit import audit, json_lines, replay

FIRST = {
    "title": "Planets",
    "questions": [
        {"text": "Red planet?", "choices": ["Mars", "Venus"], "correct": [0], "time_limit_s": 30},
        {"text": "Biggest planet?", "choices": ["Earth", "Jupiter"], "correct": [1], "time_limit_s": 30},
    ],
}
SECOND = {
    "title": "Planets, revised",
    "questions": [
        {
            "text": "Hottest planet?",
            "choices": ["Mercury", "Venus", "Mars"],
            "correct": [1],
            "time_limit_s": 30,
        },
    ],
}


async def test_a_game_plays_the_revision_it_started_with(server, http, connect, store_url):
    quiz_id = await upload_quiz(http, server, FIRST)
    host = await connect()
    code, created = await create_room(host, quiz_id, "Host")
    assert created["room"]["quiz_revision"] == 1 and created["room"]["quiz_id"] == quiz_id
    ann = await connect()
    await join(ann, code, "Ann")
    await host.send({"type": "start"})
    shown = await ann.expect("question_shown", index=0)
    assert shown["text"] == "Red planet?"

    # The teacher edits the quiz while the game is on.
    async with http.put(
        f"{server.base_url}/api/quizzes/{quiz_id}", json=SECOND, headers={"If-Match": '"1"'}
    ) as response:
        assert response.status == 200, await response.text()
        assert (await response.json())["revision"] == 2

    # The game goes on with revision 1: the answer is judged against it, the next question is its.
    accepted = await ann.request({"type": "answer", "question": 0, "choice": 0}, "answer_accepted")
    assert accepted["type"] == "answer_accepted", accepted
    closed = await ann.expect("question_closed", index=0)
    assert closed["correct"] == [0] and closed["you"]["correct"] is True
    await host.send({"type": "next"})
    second = await ann.expect("question_shown", index=1)
    assert second["text"] == "Biggest planet?" and second["choices"] == [
        "Earth",
        "Jupiter",
    ]
    state = await ann.request({"type": "join", "code": code, "name": "Ann"}, "state")
    assert state["room"]["title"] == "Planets" and state["room"]["question_count"] == 2
    assert state["room"]["quiz_revision"] == 1

    # A room created now plays revision 2.
    other = await connect()
    new_code, new_state = await create_room(other, quiz_id, "Other")
    assert new_state["room"]["quiz_revision"] == 2 and new_state["room"]["question_count"] == 1
    bob = await connect()
    await join(bob, new_code, "Bob")
    await other.send({"type": "start"})
    assert (await bob.expect("question_shown", index=0))["text"] == "Hottest planet?"

    # Deleting the quiz keeps what was played: the replay and the reports say which revision.
    async with http.delete(f"{server.base_url}/api/quizzes/{quiz_id}") as response:
        assert response.status == 200
    await server.stop()
    replayed = json_lines((await replay(store_url, code, "--json")).stdout)[-1]
    assert replayed["room"]["quiz_revision"] == 1 and replayed["room"]["title"] == "Planets"
    assert 'quiz "Planets" revision 1' in (await replay(store_url, code)).stdout
    assert 'quiz "Planets, revised" revision 2' in (await replay(store_url, new_code)).stdout

    report = json.loads((await audit(store_url, "game", code, "--json")).stdout)
    assert (report["quiz_id"], report["title"], report["quiz_revision"]) == (quiz_id, "Planets", 1)
    assert {a["quiz_revision"] for a in report["answers"]} == {1}
    assert [(a["question"], a["name"], a["correct"]) for a in report["answers"]] == [(0, "Ann", True)]
    assert 'quiz "Planets" revision 1' in (await audit(store_url, "game", code)).stdout
    newer = json.loads((await audit(store_url, "game", new_code, "--json")).stdout)
    assert newer["quiz_revision"] == 2

    history = json_lines((await audit(store_url, "user", ann.user_id, "--json")).stdout)
    assert [(h["code"], h["title"], h["quiz_revision"]) for h in history] == [(code, "Planets", 1)]
    events = json_lines((await audit(store_url, "events", "--room", code, "--json", "--limit", "0")).stdout)
    opened = next(e for e in events if e["event_type"] == "RoomCreated")
    assert opened["fields"]["quiz_revision"] == 1
