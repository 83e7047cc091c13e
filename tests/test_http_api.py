"""The HTTP API: quizzes and health, over real HTTP."""

from __future__ import annotations

import pytest

from quiz_actors.quizzes import sample_quiz_id

QUIZ = {
    "title": "Tiny",
    "questions": [{"text": "2+2?", "choices": ["3", "4"], "correct": [1], "time_limit_s": 5}],
}


async def test_samples_are_listed_on_a_fresh_start(server, http):
    async with http.get(server.base_url + "/api/quizzes") as response:
        assert response.status == 200
        quizzes = (await response.json())["quizzes"]
    ids = {q["quiz_id"] for q in quizzes}
    assert sample_quiz_id("quick-demo.json") in ids and len(quizzes) >= 3
    summary_keys = {"quiz_id", "title", "question_count", "description", "revision", "updated_at", "archived"}
    assert all(set(q) == summary_keys for q in quizzes)


async def test_upload_then_list_and_play(server, http, connect):
    async with http.post(server.base_url + "/api/quizzes", json=QUIZ) as response:
        assert response.status == 201
        created = await response.json()
    assert created["title"] == "Tiny" and created["question_count"] == 1
    async with http.get(server.base_url + "/api/quizzes") as response:
        listed = (await response.json())["quizzes"]
    assert created in listed
    assert "correct" not in str(listed)
    host = await connect()
    reply = await host.request(
        {"type": "create_room", "quiz_id": created["quiz_id"], "name": "H"}, "room_created"
    )
    assert reply["type"] == "room_created"


async def test_uploads_survive_a_restart(server, http):
    async with http.post(server.base_url + "/api/quizzes", json=QUIZ) as response:
        created = await response.json()
    await server.restart()
    async with http.get(server.base_url + "/api/quizzes") as response:
        listed = (await response.json())["quizzes"]
    assert created in listed
    assert sum(1 for q in listed if q["quiz_id"] == sample_quiz_id("quick-demo.json")) == 1


async def test_invalid_quiz_gets_400_with_details(server, http):
    bad = {"title": "", "questions": [{"text": "Q", "choices": ["a"], "correct": [3], "time_limit_s": 1}]}
    async with http.post(server.base_url + "/api/quizzes", json=bad) as response:
        assert response.status == 400
        body = await response.json()
    assert body["error"]["code"] == "quiz_invalid"
    assert len(body["error"]["details"]) >= 3
    async with http.post(server.base_url + "/api/quizzes", data=b"{not json") as response:
        assert response.status == 400
        assert (await response.json())["error"]["code"] == "quiz_invalid"


async def test_healthz(server, http):
    async with http.get(server.base_url + "/healthz") as response:
        assert response.status == 200
        assert await response.json() == {"status": "ok"}


async def _listed_ids(server, http) -> set[str]:
    async with http.get(server.base_url + "/api/quizzes") as response:
        return {q["quiz_id"] for q in (await response.json())["quizzes"]}


def _quiz_text(title: str = "T", choice: str = "a") -> str:
    # Written out by hand: json.dumps would not let an unpaired surrogate escape through.
    return (
        f'{{"title":"{title}","questions":[{{"text":"Q","choices":["{choice}","b"],'
        f'"correct":[0],"time_limit_s":5}}]}}'
    )


MALFORMED_UPLOADS = {
    "deeply nested": ("[" * 100_000 + "]" * 100_000, "application/json"),
    "nested in a field": (_quiz_text().replace('"T"', "[" * 100_000 + "]" * 100_000), "application/json"),
    "lone surrogate in the title": (_quiz_text(title="\\ud800"), "application/json"),
    "lone surrogate in a choice": (_quiz_text(choice="x\\udfff"), "application/json"),
    "unknown charset": (_quiz_text(), "application/json; charset=x-no-such-charset"),
    "not UTF-8": (_quiz_text(title="caf\xe9"), "application/json; charset=utf-8"),
    "NaN time limit": (_quiz_text().replace('"time_limit_s":5', '"time_limit_s":NaN'), "application/json"),
    "points not a string": (_quiz_text().replace('"time_limit_s":5', '"points":[]'), "application/json"),
    "1e999 time limit": (
        _quiz_text().replace('"time_limit_s":5', '"time_limit_s":1e999'),
        "application/json",
    ),
}


@pytest.mark.parametrize("case", sorted(MALFORMED_UPLOADS))
async def test_malformed_uploads_get_400_and_store_nothing(server, http, case):
    body, content_type = MALFORMED_UPLOADS[case]
    before = await _listed_ids(server, http)
    data = body.encode("latin-1") if case == "not UTF-8" else body.encode()
    async with http.post(
        server.base_url + "/api/quizzes", data=data, headers={"Content-Type": content_type}
    ) as response:
        assert response.status == 400, await response.text()
        error = (await response.json())["error"]
    assert error["code"] == "quiz_invalid"
    assert error["message"] and "Traceback" not in error["message"]
    assert await _listed_ids(server, http) == before
