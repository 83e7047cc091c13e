"""Playing a whole quiz over real sockets, on both stores (issue: playing a quiz).

The server's clock is a ManualClock: answers are stamped when they arrive, so
moving the clock between answers makes their timing exact and the scores exact.
"""

from __future__ import annotations

import asyncio

import pytest

from quiz_actors.protocol import MAX_FRAME_BYTES
from tests.conftest import answer, create_room, join, upload_quiz


async def setup_game(connect, http, server, players=("Ann", "Ben", "Cat")):
    quiz_id = await upload_quiz(http, server)
    host = await connect()
    code, _ = await create_room(host, quiz_id, "Host")
    clients = []
    for name in players:
        client = await connect()
        await join(client, code, name)
        clients.append(client)
    await host.expect("member_joined", count=len(players) + 1)
    return host, clients, code


def contains_key(value, key) -> bool:
    if isinstance(value, dict):
        return key in value or any(contains_key(v, key) for v in value.values())
    if isinstance(value, list):
        return any(contains_key(v, key) for v in value)
    return False


async def test_a_whole_game_scores_ranks_and_podium(connect, http, server, clock):
    host, (ann, ben, cat), code = await setup_game(connect, http, server)
    everyone = (host, ann, ben, cat)

    # Question 0 (standard, 20 s): Ann right at once, Ben right after 10 s, Cat wrong.
    await host.send({"type": "start"})
    shown = [await c.expect("question_shown", index=0) for c in everyone]
    assert shown[1]["choices"] == ["a", "b", "c", "d"] and shown[1]["count"] == 3
    assert shown[1]["deadline_ms"] == clock.now_ms() + 20_000
    assert (await answer(ann, 0, 1))["type"] == "answer_accepted"
    clock.advance(10)
    assert (await answer(ben, 0, 1))["type"] == "answer_accepted"
    assert (await answer(cat, 0, 0))["type"] == "answer_accepted"
    closed = {c: await c.expect("question_closed", index=0) for c in everyone}
    assert closed[ann]["reason"] == "all_answered"
    assert closed[ann]["correct"] == [1]
    assert closed[ann]["distribution"] == [1, 2, 0, 0]
    assert closed[ann]["you"] == {"correct": True, "points": 1000, "streak": 1, "score": 1000}
    assert closed[ben]["you"] == {"correct": True, "points": 750, "streak": 1, "score": 750}
    assert closed[cat]["you"] == {"correct": False, "points": 0, "streak": 0, "score": 0}
    board = await cat.expect("leaderboard")
    assert [(r["name"], r["rank"], r["score"]) for r in board["top"]] == [
        ("Ann", 1, 1000),
        ("Ben", 2, 750),
        ("Cat", 3, 0),
    ]
    ben_above = {"user_id": ben.user_id, "name": "Ben", "score": 750}
    assert board["you"] == {"rank": 3, "score": 0, "ahead": ben_above}

    # Question 1 (double, 20 s): Ann right after 5 s (streak 2), Ben wrong, Cat silent:
    # it closes at the deadline.
    await host.send({"type": "next"})
    for c in everyone:
        await c.expect("question_shown", index=1)
    clock.advance(5)
    await answer(ann, 1, 0)
    await answer(ben, 1, 1)
    clock.advance(0.1)  # progress is coalesced on the server's clock
    progress = await host.expect("answers_progress", answered=2)
    assert progress["total"] == 3
    clock.advance(15.9)
    closed = {c: await c.expect("question_closed", index=1) for c in everyone}
    assert closed[ann]["reason"] == "timeout"
    assert closed[ann]["you"] == {"correct": True, "points": 1750 + 100, "streak": 2, "score": 2850}
    assert closed[ben]["you"] == {"correct": False, "points": 0, "streak": 0, "score": 750}
    assert closed[cat]["you"] == {"correct": False, "points": 0, "streak": 0, "score": 0}
    assert closed[host]["distribution"] == [1, 1]

    # Question 2 (no points): Ann right; the host skips it early.
    await host.send({"type": "next"})
    await ann.expect("question_shown", index=2)
    await answer(ann, 2, 2)
    await host.send({"type": "next"})
    closed = await ann.expect("question_closed", index=2)
    assert closed["reason"] == "skipped"
    assert closed["you"] == {"correct": True, "points": 0, "streak": 3, "score": 2850}

    await host.send({"type": "next"})
    ended = {c: await c.expect("quiz_ended") for c in everyone}
    podium = [(p["rank"], p["name"], p["score"]) for p in ended[ann]["podium"]]
    assert podium == [(1, "Ann", 2850), (2, "Ben", 750), (3, "Cat", 0)]
    assert ended[ann]["you"] == {"rank": 1, "score": 2850, "ahead": None}
    assert ended[ben]["you"] == {
        "rank": 2,
        "score": 750,
        "ahead": {"user_id": ann.user_id, "name": "Ann", "score": 2850},
    }
    assert ended[cat]["you"] == {
        "rank": 3,
        "score": 0,
        "ahead": {"user_id": ben.user_id, "name": "Ben", "score": 750},
    }

    # Every room-wide message carried the next seq, for every client.
    for c in everyone:
        seqs = [m["seq"] for m in c.received if "seq" in m]
        assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), seqs


async def test_nothing_before_question_closed_reveals_the_answer(connect, http, server, clock):
    host, (ann, ben, cat), code = await setup_game(connect, http, server)
    await host.request({"type": "start"}, "question_shown")
    await answer(ann, 0, 1)
    late = await connect()
    await join(late, code, "Dan")  # a late joiner's state shows the open question
    await ann.request({"type": "resync"}, "state")
    await host.request({"type": "resync"}, "state")
    before = [m for c in (host, ann, ben, late) for m in c.received]
    assert not any(contains_key(m, "correct") for m in before)
    clock.advance(21)
    closed = await ann.expect("question_closed")
    assert closed["correct"] == [1]


async def test_late_joiner_gets_the_running_question(connect, http, server, clock):
    host, (ann, ben, cat), code = await setup_game(connect, http, server)
    await host.request({"type": "start"}, "question_shown")
    clock.advance(4)
    dan = await connect()
    state = await join(dan, code, "Dan")
    assert state["room"]["phase"] == "question"
    assert state["room"]["question"]["index"] == 0
    assert state["room"]["question"]["deadline_ms"] - clock.now_ms() == 16_000
    seat = state["you"].pop("seat")  # opaque: sent back with a later join (docs/protocol.md)
    assert isinstance(seat, str) and len(seat) == 22, seat
    assert state["you"] == {
        "user_id": dan.user_id,
        "is_host": False,
        "score": 0,
        "name": "Dan",
        "answered": False,
    }
    assert (await answer(dan, 0, 1))["type"] == "answer_accepted"


@pytest.mark.parametrize(
    "who, message, code",
    [
        ("player", {"type": "start"}, "not_host"),
        ("player", {"type": "next"}, "not_host"),
        ("player", {"type": "end"}, "not_host"),
        ("player", {"type": "lock"}, "not_host"),
        ("player", {"type": "kick", "user_id": "x"}, "not_host"),
        ("host", {"type": "answer", "question": 0, "choice": 0}, "not_player"),
        ("player", {"type": "answer", "question": 0, "choice": 0}, "wrong_phase"),
    ],
)
async def test_misuse_in_the_lobby(connect, http, server, who, message, code):
    host, (ann, ben, cat), _ = await setup_game(connect, http, server)
    sender = host if who == "host" else ann
    reply = await sender.request(message, "never")
    assert reply["type"] == "error" and reply["code"] == code


async def test_misuse_during_a_question(connect, http, server, clock):
    host, (ann, ben, cat), _ = await setup_game(connect, http, server)
    await host.request({"type": "start"}, "question_shown")
    again = await host.request({"type": "start"}, "never")
    assert again["code"] == "wrong_phase"
    assert (await ann.request({"type": "answer", "question": 0, "choice": 4}, "x"))["code"] == "bad_choice"
    assert (await ann.request({"type": "answer", "question": 1, "choice": 0}, "x"))["code"] == "wrong_phase"
    await answer(ann, 0, 0)
    assert (await ann.request({"type": "answer", "question": 0, "choice": 1}, "x"))[
        "code"
    ] == "already_answered"
    clock.advance(20.5)
    await ben.expect("question_closed", index=0)
    assert (await ben.request({"type": "answer", "question": 0, "choice": 1}, "x"))["code"] == "too_late"
    assert (await host.request({"type": "answer", "question": 0, "choice": 1}, "x"))["code"] == "not_player"


async def test_answers_up_to_the_deadline_count_and_later_ones_are_too_late(connect, http, server, clock):
    host, (ann, ben, cat), _ = await setup_game(connect, http, server)
    await host.request({"type": "start"}, "question_shown")
    clock.advance(19.999)
    assert (await answer(ann, 0, 1))["type"] == "answer_accepted"
    clock.advance(0.002)
    reply = await ben.request({"type": "answer", "question": 0, "choice": 1}, "answer_accepted")
    assert reply["code"] == "too_late"


async def test_kick_lock_unlock_and_end(connect, http, server, clock):
    host, (ann, ben, cat), code = await setup_game(connect, http, server)
    await host.send({"type": "kick", "user_id": cat.user_id})
    kicked = await cat.expect("kicked")
    assert kicked["code"] == code
    assert await cat.expect_closed() == 4003
    gone = await ann.expect("member_kicked")
    assert gone["user_id"] == cat.user_id and gone["count"] == 3
    cat_again = await connect(token=cat.token)
    reply = await cat_again.request({"type": "join", "code": code, "name": "Cat"}, "state")
    assert reply["code"] == "kicked"

    await host.send({"type": "lock"})
    locked = await ann.expect("room_locked")
    eve = await connect()
    assert (await eve.request({"type": "join", "code": code, "name": "Eve"}, "state"))[
        "code"
    ] == "room_locked"
    await host.send({"type": "lock"})  # locking a locked room changes nothing
    # a member may still rejoin a locked room
    await ben.close()
    await ann.expect("member_offline")
    ben_again = await connect(token=ben.token)
    assert (await join(ben_again, code, "Ben"))["room"]["locked"] is True
    unlocked = await host.request({"type": "unlock"}, "room_unlocked")
    online = await ann.expect("member_online")
    assert unlocked["seq"] == online["seq"] + 1 == locked["seq"] + 3  # offline, online, unlocked
    assert (await join(eve, code, "Eve"))["type"] == "state"

    await host.request({"type": "start"}, "question_shown")
    await host.send({"type": "end"})
    closed = await ann.expect("question_closed")
    assert closed["reason"] == "skipped"
    ended = await ann.expect("quiz_ended")
    assert ended["seq"] == closed["seq"] + 1
    assert (await host.request({"type": "next"}, "x"))["code"] == "wrong_phase"


async def test_a_player_cannot_act_as_another_user(connect, http, server):
    host, (ann, ben, cat), code = await setup_game(connect, http, server)
    # Fields naming another user are ignored or refused: the sender is the socket's user.
    await ann.send({"type": "answer", "question": 0, "choice": 1, "user_id": ben.user_id})
    assert (await ann.expect("error"))["code"] == "wrong_phase"
    reply = await ann.request({"type": "kick", "user_id": ben.user_id}, "x")
    assert reply["code"] == "not_host"


async def test_restart_mid_question_keeps_accepted_answers(connect, http, server, clock):
    host, (ann, ben, cat), code = await setup_game(connect, http, server)
    await host.request({"type": "start"}, "question_shown")
    shown = await ann.expect("question_shown")
    await answer(ann, 0, 1)
    clock.advance(3)

    await server.restart()

    ann2 = await connect(token=ann.token)
    state = await join(ann2, code, "Ann")
    assert state["room"]["phase"] == "question"
    assert state["room"]["question"]["deadline_ms"] == shown["deadline_ms"]
    assert state["you"]["answered"] is True
    assert (await ann2.request({"type": "answer", "question": 0, "choice": 1}, "x"))[
        "code"
    ] == "already_answered"
    ben2 = await connect(token=ben.token)
    await join(ben2, code, "Ben")
    await answer(ben2, 0, 0)
    # Ann and Ben are the players online and both have answered; Cat, still away, is
    # waited for (tests/test_rejoin_grace.py), until the grace ends.
    clock.advance(server.settings.rejoin_grace_s)
    closed = await ann2.expect("question_closed")
    assert closed["reason"] == "all_answered"
    assert closed["distribution"] == [1, 1, 0, 0]
    assert closed["you"] == {"correct": True, "points": 1000, "streak": 1, "score": 1000}


async def test_deadline_passed_while_down_closes_on_activation(connect, http, server, clock):
    host, (ann, ben, cat), code = await setup_game(connect, http, server)
    await host.request({"type": "start"}, "question_shown")
    await answer(ann, 0, 1)
    await server.stop()
    clock.advance(60)
    await server.start()
    ann2 = await connect(token=ann.token)
    state = await join(ann2, code, "Ann")
    assert state["room"]["phase"] == "reveal"
    assert state["room"]["question"]["correct"] == [1]
    assert next(m for m in state["room"]["members"] if m["user_id"] == ann.user_id)["score"] == 1000


async def test_state_after_a_reload_carries_rank_result_and_progress(connect, http, server, clock):
    host, (ann, ben, cat), code = await setup_game(connect, http, server)
    await host.send({"type": "start"})
    await ann.expect("question_shown")
    await answer(ann, 0, 1)
    await answer(ben, 0, 0)
    host_state = await host.request({"type": "resync"}, "state")
    assert host_state["answers_progress"] == {"answered": 2, "total": 3}
    assert "answers_progress" not in (await ann.request({"type": "resync"}, "state"))
    await answer(cat, 0, 1)
    await ann.expect("question_closed")
    ben_state = await ben.request({"type": "resync"}, "state")
    assert ben_state["room"]["phase"] == "reveal"
    assert ben_state["you"]["rank"] == 3
    assert ben_state["you"]["last_result"] == {"correct": False, "points": 0, "streak": 0, "score": 0}
    ann_state = await ann.request({"type": "resync"}, "state")
    assert ann_state["you"]["rank"] == 1 and ann_state["you"]["last_result"]["points"] == 1000


async def test_the_log_says_who_closed_a_socket_and_with_which_code(connect, http, server, caplog):
    """An operator counts kicks, redirects and drains from the log: the code is the one the
    server sent (aiohttp's close_code ends up as the client's answering 1000)."""
    caplog.set_level("INFO", logger="quiz_actors.server.bridge")
    host, (ann, ben, cat), code = await setup_game(connect, http, server)
    await host.send({"type": "kick", "user_id": cat.user_id})
    assert await cat.expect_closed() == 4003
    await ann.close()
    await ben.send_raw("x" * (MAX_FRAME_BYTES + 1))  # aiohttp closes this one itself
    assert await ben.expect_closed() == 1009

    def line_for(user_id: str) -> str | None:
        said = (r.getMessage() for r in caplog.records)
        return next((text for text in said if "closed by the" in text and user_id in text), None)

    for _ in range(100):  # the server logs once its side of the socket has ended
        if line_for(cat.user_id) and line_for(ann.user_id) and line_for(ben.user_id):
            break
        await asyncio.sleep(0.02)
    assert (line_for(cat.user_id) or "").endswith("closed by the server with code 4003")
    assert (line_for(ann.user_id) or "").endswith("closed by the client with code 1000")
    assert (line_for(ben.user_id) or "").endswith("closed by the server with code 1009")
