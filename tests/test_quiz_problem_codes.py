"""Validation problems carry a code and params, so the editor says them in its language (issue 17).

Over real HTTP (``POST /api/quizzes/validate``): documents that break every rule a
teacher can break in the editor. Each problem the server names by a code has words
under ``editor.problem.<code>`` in every catalog, with every {placeholder} of those
words in the problem's ``params``; every such key is a code the server really gives.
A problem without a code (one the editor's form cannot make) is said by ``message``
alone, as before (docs/api.md, "Problem codes").
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import aiohttp

from tests.conftest import RunningServer

STATIC = Path(__file__).resolve().parents[1] / "quiz_actors" / "server" / "static"
PLACEHOLDER = re.compile(r"\{(\w+)\}")
LANGUAGES = sorted(p.stem.removeprefix("i18n-") for p in STATIC.glob("i18n-*.json"))
WORDS = "editor.problem."


def choice(**fields: Any) -> dict[str, Any]:
    return {"text": "Q", "choices": ["a", "b"], "correct": [0], **fields}


def slider(**fields: Any) -> dict[str, Any]:
    return {"type": "slider", "text": "How many?", "min": 0, "max": 10, "step": 1, "value": 5, **fields}


EVERY_MISTAKE = [
    {
        "title": "",
        "description": "d" * 501,
        "questions": [
            choice(text="", choices=["", "x" * 121], correct=[], time_limit_s=3),
            {"type": "order", "text": "x" * 501, "items": ["a", "A "]},
            {"type": "order", "text": "Q", "items": ["a"]},
            {"type": "poll", "text": "bell\x07", "choices": ["a"]},
            {"type": "type_answer", "text": "Q", "accepted": []},
            {"type": "type_answer", "text": "half \ud800", "accepted": ["", "y" * 41]},
            slider(min="a", max="b", step="c", value="d", tolerance="e"),
            slider(min=10, max=0),
            slider(step=0),
            slider(max=100000),
            slider(step=3, value=3),
            slider(value=11, tolerance=-1),
            slider(step=2, value=3, tolerance=20),
        ],
    },
    {"title": "x" * 121, "questions": []},
    {"title": "Many", "questions": [choice()] * 101},
    {"title": "Picture", "questions": [choice(image="a" * 64)]},  # well-formed, but not stored
]


async def problems_of(server: RunningServer, document: dict[str, Any]) -> list[dict[str, Any]]:
    async with aiohttp.ClientSession() as http:
        async with http.post(server.base_url + "/api/quizzes/validate", json=document) as response:
            assert response.status == 200, await response.text()
            return list((await response.json())["problems"])


async def test_every_problem_the_editor_can_make_has_a_code_with_words_in_every_language(server):
    catalogs = {lang: json.loads((STATIC / f"i18n-{lang}.json").read_text("utf-8")) for lang in LANGUAGES}
    seen: dict[str, dict[str, Any]] = {}
    for document in EVERY_MISTAKE:
        problems = await problems_of(server, document)
        assert problems, document["title"]
        for problem in problems:
            assert "code" in problem, f"no code: {problem}"
            seen.setdefault(problem["code"], problem)
    worded = {key.removeprefix(WORDS) for key in catalogs["en"] if key.startswith(WORDS)}
    assert sorted(seen) == sorted(worded)
    for code, problem in seen.items():
        for lang, catalog in catalogs.items():
            needed = set(PLACEHOLDER.findall(catalog[WORDS + code]))
            assert needed <= set(problem["params"]), (lang, code, problem)
    # The numbers a teacher needs are the ones the server checked against.
    assert seen["time_limit_range"]["params"] == {"min": 5, "max": 240}
    assert seen["text_too_long"]["params"] == {"max": 120, "length": 121}
    assert seen["text_control"]["params"] == {"character": "U+0007"}
    assert seen["slider_value_outside"]["params"] == {"value": "11", "min": "0", "max": "10"}
    assert seen["questions_too_many"]["params"] == {"max": 100, "count": 101}
    assert seen["image_missing"]["path"] == "questions[0].image"


async def test_a_problem_the_editor_cannot_make_keeps_only_its_message(server):
    problems = await problems_of(server, {"title": "T", "questions": [choice(correct=[3])]})
    message = "The right answer must be one of the choices"
    assert problems == [{"path": "questions[0].correct", "message": message}]
