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
    host, host_state = await back(http, server, code, tokens["Host"], "Host")
    # The host's screen counts the players on their way back from the start, as every
    # answers_progress after it does: "0 of 3", never "0 of 0" and then "1 of 3".
    assert host_state["answers_progress"] == {"answered": 0, "total": 3}
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


class ArmedTimers:
    """The timers the wait arms, recorded; its messages are handed in by the test."""

    def __init__(self) -> None:
        self.rejoin_graces: list[tuple[int, int]] = []

    def arm_rejoin_grace(self, index: int, until_ms: int) -> None:
        self.rejoin_graces.append((index, until_ms))

    def rearm(self, room) -> None:
        pass

    def arm_progress(self) -> None:
        pass


def test_a_reload_during_the_wait_keeps_waiting_for_everyone_and_a_stale_timer_ends_nothing():
    """A failed save reloads the room during the wait and marks offline the members whose
    disconnect it lost: the players still on their way back from the restart stay awaited,
    and the first wait's timer, already sent, cannot end the second wait."""
    from quiz_actors.actors.messages import RejoinGraceDue
    from quiz_actors.actors.room.game import Game
    from quiz_actors.clock import ManualClock
    from tests.test_room_aggregate import T0, new_room

    room = new_room()
    for user in ("ann", "ben", "cat"):
        room.join(user, user.title(), T0 + 1, 100)
    room.start("host", T0 + 10)
    clock, timers = ManualClock(start_ms=T0 + 20), ArmedTimers()
    game = Game(clock, audience=None, saving=None, timers=timers, rejoin_grace_s=GRACE_S)  # type: ignore[arg-type]

    for user in ("host", "ann", "ben", "cat"):  # a restart: everyone offline
        room.go_offline(user, "server_restart", T0 + 20)
    game.await_rejoins(room, ["host", "ann", "ben", "cat"])
    room.join("ann", "Ann", T0 + 1_000, 100)  # back
    clock.advance(1)
    room.go_offline("ann", "server_restart", T0 + 1_000)  # the reload marks her offline again
    game.await_rejoins(room, ["ann"])
    (_, first_until), (_, second_until) = timers.rejoin_graces
    assert second_until > first_until

    game.rejoin_grace_ended(room, RejoinGraceDue(0, first_until))  # the first timer's message
    assert game.still_away(room) == 3  # Ann, Ben and Cat: nobody is forgotten
    clock.advance(GRACE_S)
    game.rejoin_grace_ended(room, RejoinGraceDue(0, second_until))
    assert game.still_away(room) == 0
