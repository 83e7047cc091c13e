"""The quiz API over real HTTP: revisions, If-Match, archive, duplicate, validate, search, the admin key.

Every endpoint's errors are here too: each says what is wrong in plain words
and changes nothing (docs/api.md).
"""

from __future__ import annotations

import asyncio
import copy
from dataclasses import replace
from typing import Any

import aiohttp
import pytest
from multidict import CIMultiDict

from tests.conftest import RunningServer
from tests.pictures import png

QUIZ: dict[str, Any] = {
    "title": "Rivers",
    "description": "Long ones",
    "questions": [
        {"text": "Longest river?", "choices": ["Nile", "Rhine"], "correct": [0], "time_limit_s": 10},
        {"type": "true_false", "text": "The Rhine flows into the North Sea.", "correct": True},
    ],
}
SUMMARY_KEYS = {"quiz_id", "title", "description", "question_count", "revision", "updated_at", "archived"}


def revised(title: str, **question: Any) -> dict[str, Any]:
    doc = copy.deepcopy(QUIZ)
    doc["title"] = title
    doc["questions"][0].update(question)
    return doc


async def call(
    http: aiohttp.ClientSession, method: str, url: str, **kwargs: Any
) -> tuple[int, CIMultiDict[str], Any]:
    async with http.request(method, url, **kwargs) as response:
        return response.status, response.headers.copy(), await response.json()


async def create(
    http: aiohttp.ClientSession, server: RunningServer, doc: dict[str, Any] = QUIZ
) -> dict[str, Any]:
    status, headers, body = await call(http, "POST", server.base_url + "/api/quizzes", json=doc)
    assert status == 201, body
    assert headers["Location"] == f"/api/quizzes/{body['quiz_id']}" and headers["ETag"] == '"1"'
    return body


async def listed(http: aiohttp.ClientSession, server: RunningServer, query: str = "") -> list[dict[str, Any]]:
    status, _, body = await call(http, "GET", server.base_url + "/api/quizzes" + query)
    assert status == 200, body
    return list(body["quizzes"])


def quiz_url(server: RunningServer, quiz_id: str) -> str:
    return f"{server.base_url}/api/quizzes/{quiz_id}"


def assert_error(body: dict[str, Any], code: str) -> dict[str, Any]:
    error = body["error"]
    assert error["code"] == code, body
    assert error["message"] and "Traceback" not in error["message"]
    assert isinstance(error["details"], list) and isinstance(error["problems"], list)
    return dict(error)


# ------------------------------------------------------------------ revisions


async def test_a_quiz_is_created_read_and_revised_and_each_revision_is_kept(server, http, clock):
    created = await create(http, server)
    assert set(created) == SUMMARY_KEYS
    assert created["revision"] == 1 and created["archived"] is False
    assert created["description"] == "Long ones" and created["question_count"] == 2
    assert created["updated_at"] == clock.now_ms()

    status, headers, got = await call(http, "GET", quiz_url(server, created["quiz_id"]))
    assert status == 200 and headers["ETag"] == '"1"'
    assert got["revision"] == 1 and got["archived"] is False and got["quiz_id"] == created["quiz_id"]
    # The document as stored: trimmed and with its defaults filled in.
    assert got["document"]["questions"][1]["time_limit_s"] == 20
    assert got["document"]["questions"][0]["correct"] == [0]

    clock.advance(5_000)
    status, headers, body = await call(
        http,
        "PUT",
        quiz_url(server, created["quiz_id"]),
        json=revised("Rivers of Europe", text="Longest river in Europe?", choices=["Volga", "Rhine"]),
        headers={"If-Match": headers["ETag"]},
    )
    assert status == 200, body
    assert headers["ETag"] == '"2"' and body["revision"] == 2 and body["title"] == "Rivers of Europe"
    assert body["updated_at"] == clock.now_ms()

    status, headers, got = await call(http, "GET", quiz_url(server, created["quiz_id"]))
    assert headers["ETag"] == '"2"' and got["document"]["questions"][0]["choices"] == ["Volga", "Rhine"]
    entry = next(q for q in await listed(http, server) if q["quiz_id"] == created["quiz_id"])
    assert entry == body

    await server.restart()
    status, headers, got = await call(http, "GET", quiz_url(server, created["quiz_id"]))
    assert headers["ETag"] == '"2"' and got["document"]["title"] == "Rivers of Europe"


async def test_a_revision_from_a_stale_copy_is_refused_and_changes_nothing(server, http):
    created = await create(http, server)
    url = quiz_url(server, created["quiz_id"])
    status, _, _ = await call(http, "PUT", url, json=revised("First tab"), headers={"If-Match": '"1"'})
    assert status == 200

    status, headers, body = await call(
        http, "PUT", url, json=revised("Second tab"), headers={"If-Match": '"1"'}
    )
    assert status == 412 and headers["ETag"] == '"2"'
    error = assert_error(body, "quiz_changed")
    assert error["message"] == "This quiz changed since you opened it (now revision 2)"
    _, headers, got = await call(http, "GET", url)
    assert got["document"]["title"] == "First tab" and headers["ETag"] == '"2"'


@pytest.mark.parametrize("round_", range(3))
async def test_two_revisions_from_the_same_copy_at_once_exactly_one_wins(server, http, round_):
    created = await create(http, server)
    url = quiz_url(server, created["quiz_id"])
    titles = [f"Tab A {round_}", f"Tab B {round_}"]
    results = await asyncio.gather(
        *(call(http, "PUT", url, json=revised(t), headers={"If-Match": '"1"'}) for t in titles)
    )
    statuses = sorted(status for status, _, _ in results)
    assert statuses == [200, 412], results
    winner = next(body for status, _, body in results if status == 200)
    loser = next(body for status, _, body in results if status == 412)
    assert next(headers for status, headers, _ in results if status == 412)["ETag"] == '"2"'
    assert loser["error"]["message"] == "This quiz changed since you opened it (now revision 2)"
    _, headers, got = await call(http, "GET", url)
    assert headers["ETag"] == '"2"' and got["document"]["title"] == winner["title"]
    assert [q["title"] for q in await listed(http, server) if q["quiz_id"] == created["quiz_id"]] == [
        winner["title"]
    ]


async def test_revising_asks_for_the_revision_and_a_valid_document(server, http):
    created = await create(http, server)
    url = quiz_url(server, created["quiz_id"])

    status, _, body = await call(http, "PUT", url, json=revised("No If-Match"))
    assert status == 428
    assert "If-Match" in assert_error(body, "revision_required")["message"]

    for garbage in ("yesterday", "\u00b2", "*", '"1", "2"'):
        headers = {"If-Match": garbage.encode().decode("latin-1")}
        status, _, body = await call(http, "PUT", url, json=revised("Bad"), headers=headers)
        assert status == 400 and assert_error(body, "bad_request")

    bad = revised("Rivers", correct=[3])
    status, _, body = await call(http, "PUT", url, json=bad, headers={"If-Match": '"1"'})
    assert status == 400
    error = assert_error(body, "quiz_invalid")
    assert error["problems"] == [
        {"path": "questions[0].correct", "message": "The right answer must be one of the choices"}
    ]
    assert error["details"] == ["questions[0].correct: 3 is not an index into choices"]

    status, _, body = await call(http, "PUT", url, data=b"{oops", headers={"If-Match": '"1"'})
    assert status == 400 and assert_error(body, "quiz_invalid")

    too_big = b'{"title": "' + b"x" * (512 * 1024) + b'"}'
    status, _, body = await call(http, "PUT", url, data=too_big, headers={"If-Match": '"1"'})
    assert status == 413 and "at most 524288 bytes" in assert_error(body, "quiz_invalid")["message"]
    status, _, body = await call(http, "POST", server.base_url + "/api/quizzes/validate", data=too_big)
    assert status == 413 and assert_error(body, "quiz_invalid")

    missing = quiz_url(server, "00000000-0000-4000-8000-000000000000")
    status, _, body = await call(http, "PUT", missing, json=QUIZ, headers={"If-Match": '"1"'})
    assert status == 404 and assert_error(body, "quiz_not_found")

    # W/"1" and a bare 1 name revision 1 too; nothing above changed it.
    status, _, body = await call(http, "PUT", url, json=revised("Weak"), headers={"If-Match": 'W/"1"'})
    assert status == 200 and body["revision"] == 2
    status, _, body = await call(http, "PUT", url, json=revised("Bare"), headers={"If-Match": "2"})
    assert status == 200 and body["revision"] == 3


async def test_an_unknown_quiz_or_path_is_a_json_404(server, http):
    # A well-formed id no quiz has: quiz_not_found; anything else under /api/: not_found, as JSON too.
    for quiz_id, code in (
        ("00000000-0000-4000-8000-000000000000", "quiz_not_found"),
        ("not-an-id", "not_found"),
    ):
        url = quiz_url(server, quiz_id)
        for method, target in (("GET", url), ("DELETE", url), ("POST", url + "/duplicate")):
            status, _, body = await call(http, method, target)
            assert status == 404 and assert_error(body, code), (method, target)
    status, headers, body = await call(http, "PATCH", server.base_url + "/api/quizzes")
    assert status == 405 and assert_error(body, "method_not_allowed")
    assert set(headers["Allow"].split(", ")) == {"GET", "HEAD", "POST"}
    status, _, body = await call(http, "PUT", server.base_url + "/api/quizzes/validate", json=QUIZ)
    assert status == 405 and assert_error(body, "method_not_allowed")


# ------------------------------------------------------------------ archive, duplicate


async def test_deleting_archives_the_quiz_and_it_starts_no_new_room(server, http, connect, clock):
    created = await create(http, server)
    url = quiz_url(server, created["quiz_id"])
    host = await connect()
    before = await host.request(
        {"type": "create_room", "quiz_id": created["quiz_id"], "name": "Before"}, "room_created"
    )
    assert before["type"] == "room_created"

    clock.advance(1_000)
    status, _, body = await call(http, "DELETE", url)
    assert status == 200 and body["archived"] is True and body["revision"] == 1
    assert body["updated_at"] == clock.now_ms()
    assert created["quiz_id"] not in [q["quiz_id"] for q in await listed(http, server)]
    assert [q["quiz_id"] for q in await listed(http, server, "?archived=1")] == [created["quiz_id"]]

    # Archived, not erased: it can still be read, and deleting it again is no change.
    status, _, got = await call(http, "GET", url)
    assert status == 200 and got["archived"] is True and got["document"]["title"] == "Rivers"
    status, _, again = await call(http, "DELETE", url)
    assert status == 200 and again == body

    refused = await host.request(
        {"type": "create_room", "quiz_id": created["quiz_id"], "name": "H"}, "room_created"
    )
    assert refused["type"] == "error" and refused["code"] == "quiz_archived"
    assert "Rivers" in refused["message"] and "deleted" in refused["message"]

    status, _, body = await call(http, "PUT", url, json=revised("Back"), headers={"If-Match": '"1"'})
    assert status == 409 and assert_error(body, "quiz_archived")

    # The room created before the archive still plays its quiz.
    player = await connect()
    state = await player.request({"type": "join", "code": before["code"], "name": "Pat"}, "state")
    assert state["room"]["title"] == "Rivers" and state["room"]["quiz_revision"] == 1


async def test_a_duplicate_is_a_new_quiz_with_the_same_questions(server, http):
    created = await create(http, server)
    await call(
        http, "PUT", quiz_url(server, created["quiz_id"]), json=revised("Rivers"), headers={"If-Match": "1"}
    )
    status, headers, copy_ = await call(http, "POST", quiz_url(server, created["quiz_id"]) + "/duplicate")
    assert status == 201 and headers["Location"] == f"/api/quizzes/{copy_['quiz_id']}"
    assert copy_["quiz_id"] != created["quiz_id"]
    assert copy_["title"] == "Rivers (copy)" and copy_["revision"] == 1 and copy_["archived"] is False
    _, _, original = await call(http, "GET", quiz_url(server, created["quiz_id"]))
    _, _, duplicate = await call(http, "GET", quiz_url(server, copy_["quiz_id"]))
    assert duplicate["document"]["questions"] == original["document"]["questions"]
    assert duplicate["document"]["description"] == "Long ones"

    long_title = await create(http, server, {**QUIZ, "title": "x" * 120})
    _, _, copy_ = await call(http, "POST", quiz_url(server, long_title["quiz_id"]) + "/duplicate")
    assert copy_["title"] == "x" * 113 + " (copy)"


async def test_a_duplicate_takes_the_title_a_page_names_in_its_language(server, http):
    created = await create(http, server)
    url = quiz_url(server, created["quiz_id"]) + "/duplicate"
    status, _, copy_ = await call(http, "POST", url, json={"title": " Rivers (Kopie) "})
    assert status == 201 and copy_["title"] == "Rivers (Kopie)"
    _, _, copy_ = await call(http, "POST", url, json={})
    assert copy_["title"] == "Rivers (copy)"
    before = len(await listed(http, server))
    # A title the rules refuse is refused like any upload's, with its code; other bodies plainly.
    status, _, body = await call(http, "POST", url, json={"title": "x" * 121})
    assert status == 400 and assert_error(body, "quiz_invalid")["problems"][0]["code"] == "title_too_long"
    status, _, body = await call(http, "POST", url, json={"title": "  "})
    assert status == 400 and assert_error(body, "quiz_invalid")["problems"][0]["code"] == "title_missing"
    for bad in ([1], {"title": 7}, {"title": None}, "Rivers"):
        status, _, body = await call(http, "POST", url, json=bad)
        assert status == 400 and "title" in assert_error(body, "bad_request")["message"], bad
    status, _, body = await call(
        http, "POST", url, data=b"{nope", headers={"Content-Type": "application/json"}
    )
    assert status == 400 and assert_error(body, "bad_request")
    assert len(await listed(http, server)) == before


# ------------------------------------------------------------------ list, search, validate


async def test_the_list_is_newest_change_first_and_searches_titles(server, http, clock):
    ids = []
    for title in ("Alpha rivers", "Beta mountains", "Gamma RIVERS"):
        clock.advance(1_000)
        ids.append((await create(http, server, {**QUIZ, "title": title}))["quiz_id"])
    everything = await listed(http, server)
    assert [q["quiz_id"] for q in everything[:3]] == list(reversed(ids))
    times = [q["updated_at"] for q in everything]
    assert times == sorted(times, reverse=True)

    assert [q["title"] for q in await listed(http, server, "?q=rivers")] == ["Gamma RIVERS", "Alpha rivers"]
    assert await listed(http, server, "?q=nothing+like+it") == []

    clock.advance(1_000)  # a revision is a change: the revised quiz comes first
    await call(
        http,
        "PUT",
        quiz_url(server, ids[0]),
        json={**QUIZ, "title": "Alpha rivers"},
        headers={"If-Match": "1"},
    )
    assert (await listed(http, server, "?q=rivers"))[0]["quiz_id"] == ids[0]

    status, _, body = await call(http, "GET", server.base_url + "/api/quizzes?archived=maybe")
    assert status == 400 and assert_error(body, "bad_request")


async def test_validate_is_a_dry_run_with_plain_problems(server, http):
    before = await listed(http, server)
    status, _, body = await call(http, "POST", server.base_url + "/api/quizzes/validate", json=QUIZ)
    assert status == 200 and body == {"problems": []}

    bad = {
        "title": "",
        "description": "d" * 501,
        "questions": [
            {"text": "Q", "choices": ["a", "b"], "correct": [3]},
            {"type": "slider", "text": "How far?", "min": 0, "max": 10, "value": 11},
            {
                "text": "Pic",
                "choices": ["a", "b"],
                "correct": [0],
                "image": "cat.png",
                "image_on_phones": "yes",
            },
        ],
    }
    status, _, body = await call(http, "POST", server.base_url + "/api/quizzes/validate", json=bad)
    assert status == 200
    problems = {p["path"]: p["message"] for p in body["problems"]}
    assert problems["title"] == "Give the quiz a title"
    assert problems["description"].startswith("A description is at most 500 characters")
    assert problems["questions[0].correct"] == "The right answer must be one of the choices"
    assert problems["questions[1].value"] == "The right value 11 is outside 0–10"
    assert "questions[2].image" in problems and "questions[2].image_on_phones" in problems
    # Plain words: never the path, never Python's repr.
    assert all(not p["message"].startswith("questions") and "'" not in p["message"] for p in body["problems"])

    status, _, body = await call(http, "POST", server.base_url + "/api/quizzes/validate", data=b"[1, 2")
    assert status == 400 and assert_error(body, "quiz_invalid")
    assert await listed(http, server) == before


async def test_a_quiz_with_a_picture_keeps_it_and_its_phone_setting(server, http):
    status, _, stored = await call(http, "POST", server.base_url + "/api/media", data=png())
    assert status == 201, stored
    picture = stored["media_id"]
    missing = copy.deepcopy(QUIZ)
    missing["questions"][0]["image"] = "ab" * 32  # well formed, but no picture the store holds
    status, _, body = await call(http, "POST", server.base_url + "/api/quizzes", json=missing)
    assert status == 400
    assert assert_error(body, "quiz_invalid")["problems"][0]["path"] == "questions[0].image"
    doc = copy.deepcopy(QUIZ)
    doc["questions"][0].update(image=picture, image_on_phones=True)
    doc["questions"][1]["image"] = picture
    created = await create(http, server, doc)
    _, _, got = await call(http, "GET", quiz_url(server, created["quiz_id"]))
    first, second = got["document"]["questions"]
    assert (first["image"], first["image_on_phones"]) == (picture, True)
    assert (second["image"], second["image_on_phones"]) == (picture, False)


# ------------------------------------------------------------------ the admin key


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
async def test_the_admin_key_guards_every_change_and_every_whole_quiz(settings, clock, http):
    server = await RunningServer(replace(settings, admin_key="s3cret"), clock).start()
    try:
        key = {"Authorization": "Bearer s3cret"}
        status, _, created = await call(
            http, "POST", server.base_url + "/api/quizzes", json=QUIZ, headers=key
        )
        assert status == 201
        url = quiz_url(server, created["quiz_id"])
        guarded = [
            ("POST", server.base_url + "/api/quizzes", {"json": QUIZ}),
            ("POST", server.base_url + "/api/quizzes/validate", {"json": QUIZ}),
            ("GET", url, {}),
            ("PUT", url, {"json": QUIZ, "headers": {"If-Match": '"1"'}}),
            ("DELETE", url, {}),
            ("POST", url + "/duplicate", {}),
        ]
        for method, target, kwargs in guarded:
            for wrong in ({}, {"Authorization": "Bearer nope"}, {"Authorization": "s3cret"}):
                headers = {**kwargs.get("headers", {}), **wrong}
                status, reply_headers, body = await call(
                    http, method, target, **{**kwargs, "headers": headers}
                )
                assert status == 401, (method, target, body)
                assert assert_error(body, "unauthorized")["message"].endswith(
                    "needs the server's admin key (Authorization: Bearer <key>)"
                )
                assert reply_headers["WWW-Authenticate"].startswith("Bearer")
        # Nothing changed, and summaries need no key.
        entry = next(q for q in await listed(http, server) if q["quiz_id"] == created["quiz_id"])
        assert entry == created
        assert len([q for q in await listed(http, server) if q["title"] == "Rivers"]) == 1

        for method, target, kwargs in guarded:
            headers = {**kwargs.get("headers", {}), **key}
            status, _, body = await call(http, method, target, **{**kwargs, "headers": headers})
            assert status in (200, 201), (method, target, body)
    finally:
        await server.stop()
