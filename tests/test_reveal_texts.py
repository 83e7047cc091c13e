"""A reveal's per-member messages are written as text, not built as dicts and encoded.

``views.Results`` writes each member's ``you`` straight into the shared part of
``question_closed``, ``leaderboard`` and ``quiz_ended`` (docs/benchmark.md, "The
outbound path"). What a client receives must be byte for byte what encoding the
plain message (a dict, through ``protocol.encode``) gives, whatever the names and
scores; over a real socket, every member's reveal frame holds exactly that.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from quiz_actors import views
from quiz_actors.domain.errors import RoomError
from quiz_actors.domain.room import Room, revealed
from tests.conftest import answer, create_room, join, upload_quiz

T0 = 1_000_000
QUIZ = {
    "title": "Reveal",
    "questions": [
        {
            "text": "One?",
            "choices": ["a", "b", "c", "d"],
            "correct": [1],
            "time_limit_s": 20,
            "points": "standard",
        },
        {"text": "Two?", "choices": ["a", "b"], "correct": [0], "time_limit_s": 20, "points": "double"},
    ],
}
TRICKY_NAMES = ['Ann "the" Quick', "Back\\slash", "Zoë", "李雷", "🦊 Fox", "</script>", "Ben"]


def plain(message: dict[str, Any]) -> str:
    """How the server encodes a message: compact, UTF-8 left as is (``protocol.encode``)."""
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def played_room(names: list[str], choices: list[int], delays_ms: list[int]) -> Room:
    """A room whose first question closed after the players answered ``choices`` (-1: silent)."""
    room = Room.open(code="123456", quiz_id="q", quiz=QUIZ, host_id="host", host_name="Host", at=T0)
    for i, name in enumerate(names):
        try:
            room.join(f"user-{i}", name, T0 + i, 1000)
        except RoomError:
            pass  # a name the room refuses (blank, taken, rude): that player is not in the room
    room.start("host", T0 + 10_000)
    players = [u for u in room.members if u != "host"]
    for user_id, choice, delay in zip(players, choices, delays_ms, strict=False):
        if choice >= 0:
            room.answer(user_id, 0, {"choice": choice}, T0 + 10_000 + delay)
    room.close_question("timeout", T0 + 40_000)
    return room


def expected_texts(room: Room, seq: int, user_id: str) -> tuple[str, str, str]:
    """question_closed, leaderboard and quiz_ended for ``user_id``, built as plain dicts."""
    result = room.latest_result()
    closed: dict[str, Any] = {
        "type": "question_closed",
        "seq": seq,
        "index": result["index"],
        "reason": result["reason"],
        **revealed(result),
    }
    ranking = room.ranking()
    board: dict[str, Any] = {"type": "leaderboard", "top": ranking[:10]}
    ended: dict[str, Any] = {"type": "quiz_ended", "seq": seq + 1, "podium": ranking[:3]}
    own = result["results"].get(user_id)
    if own is not None:
        closed["you"] = own
    position = next((i for i, row in enumerate(ranking) if row["user_id"] == user_id), None)
    if position is not None:
        you = {
            "rank": ranking[position]["rank"],
            "score": ranking[position]["score"],
            "ahead": views.ahead_of(ranking, position),
        }
        board["you"] = ended["you"] = you
    return plain(closed), plain(board), plain(ended)


def assert_texts_are_plain(room: Room) -> None:
    results = views.Results(room)
    for user_id in room.members:
        got = (
            results.question_closed(7, user_id),
            results.leaderboard(user_id),
            results.quiz_ended(8, user_id),
        )
        assert got == expected_texts(room, 7, user_id), user_id


@given(
    names=st.lists(st.one_of(st.sampled_from(TRICKY_NAMES), st.text(min_size=1, max_size=24)), max_size=25),
    choices=st.lists(st.integers(min_value=-1, max_value=3), max_size=25),
    delays_ms=st.lists(st.integers(min_value=0, max_value=19_000), max_size=25),
)
def test_every_members_reveal_text_is_the_plain_encoding(names, choices, delays_ms):
    assert_texts_are_plain(played_room(names, choices, delays_ms))


def test_results_of_other_shapes_are_encoded_as_they_are():
    """A result or score that is not the usual plain ints (a float, an extra field) still
    goes out exactly as encoding it gives: the direct text is only for the usual shape."""
    room = played_room(TRICKY_NAMES, [1, 0, 1, -1, 2, 1, 3, 1], [100 * i for i in range(8)])
    players = [u for u in room.members if u != "host"]
    results = room.latest_result()["results"]
    results[players[0]]["points"] = 2.5
    results[players[1]]["bonus"] = True
    results[players[2]] = {"score": 0, "correct": False, "points": 0, "streak": 0}  # another order
    room.members[players[3]]["score"] = 1.5  # in the ranking, and "ahead" of whoever follows
    assert_texts_are_plain(room)


async def test_each_member_receives_its_reveal_exactly_as_plainly_encoded(connect, http, server, clock):
    """Over real sockets: every player's reveal frame (``question_closed`` and
    ``leaderboard`` in one JSON array) is compact JSON as encoding it gives, its
    ``you`` the player's own result and rank."""
    quiz_id = await upload_quiz(http, server)
    host = await connect()
    code, _ = await create_room(host, quiz_id, "Host")
    players = []
    for name in TRICKY_NAMES:
        client = await connect()
        await join(client, code, name)
        players.append(client)
    await host.expect("member_joined", count=len(TRICKY_NAMES) + 1)
    await host.send({"type": "start"})
    for client in players:
        await client.expect("question_shown", index=0)
    for i, client in enumerate(players[:-1]):  # the last stays silent
        clock.advance(1)
        assert (await answer(client, 0, 1 if i % 3 else 0))["type"] == "answer_accepted"
    clock.advance(20)
    closed = [await client.expect("question_closed", index=0) for client in players]
    boards = [await client.expect("leaderboard") for client in players]

    frames = [next(f for f in client.frames if '"question_closed"' in f) for client in players]
    for frame in frames:
        assert frame == plain(json.loads(frame))
    ranking = boards[0]["top"]
    assert sorted(row["name"] for row in ranking) == sorted(TRICKY_NAMES)  # every name back as it was given
    for i, (client, message, board) in enumerate(zip(players, closed, boards, strict=True)):
        right = i < len(players) - 1 and i % 3 != 0
        own = message["you"]
        assert (own["correct"], own["streak"]) == (right, 1 if right else 0)
        assert own["score"] == own["points"] and (own["points"] > 0) is right
        position = next(p for p, row in enumerate(ranking) if row["user_id"] == client.user_id)
        above = ranking[position - 1] if position else None
        assert board["you"] == {
            "rank": ranking[position]["rank"],
            "score": ranking[position]["score"],
            "ahead": None if above is None else {k: above[k] for k in ("user_id", "name", "score")},
        }
