"""After a restart, a question waits for its players to come back (``--rejoin-grace-s``).

A restart (or, in a cluster, a takeover) leaves every member offline until their
phone reconnects, and phones come back over several seconds (the web client's
backoff). A question closes early once everyone online has answered: without the
grace, the first phones back answered and closed it on the rest of the class, who
found the reveal and scored nothing. Over real sockets, on both stores; the
server's clock is a ManualClock, so the grace ends exactly when the test says.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from tests.conftest import RunningServer, answer, create_room, join, open_client, upload_quiz

GRACE_S = 10.0


@pytest.fixture
async def restartable(settings, clock):
    server = await RunningServer(replace(settings, rejoin_grace_s=GRACE_S), clock).start()
    yield server
    await server.stop()


async def room_in_a_question(http, server, names=("Ann", "Ben", "Cat")):
    """A room playing its first question (20 s), nobody has answered; the host and each
    player's user token, to come back with after the restart, and their clients (kept
    open until the restart: a client let go would close its socket, a member leaving)."""
    quiz_id = await upload_quiz(http, server)
    host = await open_client(http, server)
    code, _ = await create_room(host, quiz_id, "Host")
    clients = {"Host": host}
    for name in names:
        clients[name] = await open_client(http, server)
        await join(clients[name], code, name)
    await host.expect("member_joined", count=len(names) + 1)
    await host.send({"type": "start"})
    for client in clients.values():
        await client.expect("question_shown", index=0)
    return code, {name: client.token for name, client in clients.items()}, clients


async def back(http, server, code: str, token: str, name: str):
    client = await open_client(http, server, token)
    state = await join(client, code, name)
    return client, state


async def test_the_first_players_back_do_not_close_the_question_on_the_others(http, restartable, clock):
    server = restartable
    code, tokens, _before = await room_in_a_question(http, server)

    await server.restart()
    host, _ = await back(http, server, code, tokens["Host"], "Host")
    ann, state = await back(http, server, code, tokens["Ann"], "Ann")
    assert state["room"]["phase"] == "question"
    assert (await answer(ann, 0, 1))["type"] == "answer_accepted"  # everyone online has answered
    clock.advance(0.1)  # the host's progress is coalesced on the server's clock
    progress = await host.expect("answers_progress", answered=1)
    assert progress["total"] == 3  # Ben and Cat, on their way back, count

    clock.advance(3)  # Ben's phone is slower
    ben, state = await back(http, server, code, tokens["Ben"], "Ben")
    assert state["room"]["phase"] == "question"  # still open for him
    assert (await answer(ben, 0, 1))["type"] == "answer_accepted"
    cat, state = await back(http, server, code, tokens["Cat"], "Cat")
    assert state["room"]["phase"] == "question"
    assert (await answer(cat, 0, 0))["type"] == "answer_accepted"

    closed = await host.expect("question_closed", index=0)
    assert closed["reason"] == "all_answered"
    assert closed["distribution"] == [1, 2, 0, 0]
    assert (await ann.expect("question_closed", index=0))["seq"] == closed["seq"]
    assert len(ann.of_type("question_closed")) == 1  # it closed once, on Cat's answer


async def test_players_not_back_within_the_grace_are_not_waited_for(http, restartable, clock):
    server = restartable
    code, tokens, _before = await room_in_a_question(http, server)

    await server.restart()
    ann, _ = await back(http, server, code, tokens["Ann"], "Ann")
    assert (await answer(ann, 0, 1))["type"] == "answer_accepted"
    clock.advance(GRACE_S - 0.5)
    ben, state = await back(http, server, code, tokens["Ben"], "Ben")
    assert state["room"]["phase"] == "question"  # the grace is not over yet
    assert (await answer(ben, 0, 1))["type"] == "answer_accepted"

    clock.advance(0.5)  # the grace ends: Cat (still away) is no longer waited for
    closed = await ann.expect("question_closed", index=0)
    assert closed["reason"] == "all_answered"  # not the 20 s deadline
    assert closed["distribution"] == [0, 2, 0, 0]


async def test_a_player_who_left_is_not_waited_for(http, restartable, clock):
    server = restartable
    code, tokens, _before = await room_in_a_question(http, server, names=("Ann", "Ben"))

    await server.restart()
    ben, _ = await back(http, server, code, tokens["Ben"], "Ben")
    assert (await ben.request({"type": "leave"}, "left"))["type"] == "left"
    ann, _ = await back(http, server, code, tokens["Ann"], "Ann")
    assert (await answer(ann, 0, 1))["type"] == "answer_accepted"
    closed = await ann.expect("question_closed", index=0)  # at once: nobody else is to come
    assert closed["reason"] == "all_answered"
