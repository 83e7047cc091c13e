"""What a phone needs to come back after a lost connection or a reload (issue 16, phones),
over real sockets: its own answer in ``state``, the verdict of a question that closed
while it was away, a duplicate answer after a reconnect, and who is just ahead of it.
"""

from __future__ import annotations

from tests.conftest import answer, create_room, join, upload_quiz

# One question of each kind a phone answers with a different field.
QUIZ = {
    "title": "Phone state",
    "questions": [
        {"text": "Pick b", "choices": ["a", "b", "c"], "correct": [1], "time_limit_s": 20},
        {"type": "multi", "text": "a and c", "choices": ["a", "b", "c"], "correct": [0, 2]},
        {"type": "type_answer", "text": "Capital of Spain?", "accepted": ["Madrid"]},
        {"type": "slider", "text": "Boils at?", "min": 0, "max": 200, "step": 5, "value": 100},
        {"type": "order", "text": "Smallest first", "items": ["Atom", "Cell", "Mouse"]},
    ],
}


async def a_game(connect, http, server, names=("Ann", "Ben")):
    quiz_id = await upload_quiz(http, server, QUIZ)
    host = await connect()
    code, _ = await create_room(host, quiz_id)
    players = []
    for name in names:
        client = await connect()
        await join(client, code, name)
        players.append(client)
    await host.expect("member_joined", count=len(names) + 1)
    return host, players, code


async def reconnect(connect, client, code: str, name: str):
    """The same user on a new socket, back in the room: (client, its state)."""
    again = await connect(token=client.token)
    return again, await join(again, code, name)


async def test_a_reloaded_phone_is_told_its_own_answer_for_every_kind(connect, http, server, clock):
    host, (ann, ben), code = await a_game(connect, http, server)
    given = [
        {"choice": 1},
        {"choices": [0, 2]},
        {"text": "  madrid "},
        {"value": 95},
    ]
    await host.request({"type": "start"}, "question_shown")
    for index, payload in enumerate(given):
        if index:
            await host.request({"type": "next"}, "question_shown")  # from the reveal to the next one
        await ann.expect("question_shown", index=index)
        accepted = await ann.request({"type": "answer", "question": index, **payload}, "answer_accepted")
        assert accepted == {"type": "answer_accepted", "question": index, "ref": accepted["ref"]}

        ann, state = await reconnect(connect, ann, code, "Ann")
        assert state["room"]["phase"] == "question"
        assert state["you"]["answered"] is True
        assert state["you"]["answer"] == payload  # as sent: the phone shows it in its own words
        # Ben has not answered: nothing of Ann's is in his state.
        ben_state = await ben.request({"type": "resync"}, "state")
        assert ben_state["you"]["answered"] is False and "answer" not in ben_state["you"]

        await host.request({"type": "next"}, "question_closed")  # the host closes it
        ann, state = await reconnect(connect, ann, code, "Ann")
        assert state["room"]["phase"] == "reveal"
        assert state["you"]["answer"] == payload  # still known in the reveal
        assert "answer" not in (await host.request({"type": "resync"}, "state"))["you"]

    # The order question: shown shuffled, answered as shown.
    await host.request({"type": "next"}, "question_shown")
    shown = await ann.expect("question_shown", index=4)
    order = [shown["items"].index(item) for item in ("Atom", "Cell", "Mouse")]
    await ann.request({"type": "answer", "question": 4, "order": order}, "answer_accepted")
    ann, state = await reconnect(connect, ann, code, "Ann")
    assert state["you"]["answer"] == {"order": order}

    # After the end there is no current question: no answer to show.
    await host.request({"type": "next"}, "question_closed")
    await host.request({"type": "next"}, "quiz_ended")
    ann, state = await reconnect(connect, ann, code, "Ann")
    assert state["room"]["phase"] == "ended" and "answer" not in state["you"]


async def test_back_after_the_question_closed_the_phone_gets_its_verdict(connect, http, server, clock):
    host, (ann, ben), code = await a_game(connect, http, server)
    await host.request({"type": "start"}, "question_shown")
    await ann.expect("question_shown")
    await answer(ann, 0, 1)  # right, at once: 1000 points
    # Ann's connection dies with the question still open; Ben answers wrong after 4 s.
    await ann.ws.close()
    await host.expect("member_offline", user_id=ann.user_id)
    clock.advance(4)
    await answer(ben, 0, 2)  # every player online has answered: the question closes
    await ben.expect("question_closed")

    ann, state = await reconnect(connect, ann, code, "Ann")
    assert state["room"]["phase"] == "reveal"
    assert state["room"]["question"]["correct"] == [1]
    assert state["you"]["last_result"] == {"correct": True, "points": 1000, "streak": 1, "score": 1000}
    assert state["you"]["answer"] == {"choice": 1}
    assert state["you"]["rank"] == 1 and state["you"]["ahead"] is None
    ben_state = await ben.request({"type": "resync"}, "state")
    assert ben_state["you"]["last_result"] == {"correct": False, "points": 0, "streak": 0, "score": 0}
    assert ben_state["you"]["ahead"] == {"user_id": ann.user_id, "name": "Ann", "score": 1000}


async def test_an_answer_sent_again_after_a_reconnect_counts_once(connect, http, server, clock):
    """A phone that lost the ack resends: the server keeps the first answer and says so."""
    host, (ann, ben), code = await a_game(connect, http, server)
    await host.request({"type": "start"}, "question_shown")
    await ann.expect("question_shown")
    await answer(ann, 0, 1)
    clock.advance(2)
    ann, state = await reconnect(connect, ann, code, "Ann")
    # Sent again, even with another choice: refused, and the stored answer stands.
    again = await ann.request({"type": "answer", "question": 0, "choice": 0}, "answer_accepted")
    assert again["type"] == "error" and again["code"] == "already_answered"
    state = await ann.request({"type": "resync"}, "state")
    assert state["you"]["answer"] == {"choice": 1}
    progress = (await host.request({"type": "resync"}, "state"))["answers_progress"]
    assert progress == {"answered": 1, "total": 2}
    await answer(ben, 0, 1)
    closed = await ann.expect("question_closed")
    assert closed["distribution"] == [0, 2, 0]  # one answer each, the resend not counted
    assert closed["you"] == {"correct": True, "points": 1000, "streak": 1, "score": 1000}


async def test_an_answer_resent_after_the_question_closed_is_too_late(connect, http, server, clock):
    host, (ann, ben), code = await a_game(connect, http, server)
    await host.request({"type": "start"}, "question_shown")
    await ann.expect("question_shown")
    await ann.ws.close()  # the answer Ann tapped never left her phone
    await host.request({"type": "next"}, "question_closed")
    ann, state = await reconnect(connect, ann, code, "Ann")
    assert state["room"]["phase"] == "reveal" and "answer" not in state["you"]
    assert state["you"]["last_result"] == {"correct": False, "points": 0, "streak": 0, "score": 0}
    late = await ann.request({"type": "answer", "question": 0, "choice": 1}, "answer_accepted")
    assert late["type"] == "error" and late["code"] == "too_late"


async def test_the_leaderboard_tells_each_player_who_is_just_ahead(connect, http, server, clock):
    host, (ann, ben, cat), code = await a_game(connect, http, server, names=("Ann", "Ben", "Cat"))
    await host.request({"type": "start"}, "question_shown")
    await ann.expect("question_shown")
    await answer(ann, 0, 1)  # 1000
    clock.advance(10)
    await answer(ben, 0, 1)  # 750
    await answer(cat, 0, 0)  # 0
    boards = {c: await c.expect("leaderboard") for c in (ann, ben, cat)}
    assert boards[ann]["you"] == {"rank": 1, "score": 1000, "ahead": None}
    assert boards[ben]["you"] == {
        "rank": 2,
        "score": 750,
        "ahead": {"user_id": ann.user_id, "name": "Ann", "score": 1000},
    }
    assert boards[cat]["you"]["ahead"] == {"user_id": ben.user_id, "name": "Ben", "score": 750}
    host_board = await host.expect("leaderboard")
    assert "you" not in host_board
    # A reload in the reveal says the same.
    cat, state = await reconnect(connect, cat, code, "Cat")
    assert state["you"]["rank"] == 3
    assert state["you"]["ahead"] == {"user_id": ben.user_id, "name": "Ben", "score": 750}
