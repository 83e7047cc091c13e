"""Membership summaries in a big room (docs/protocol.md), over real sockets.

A player whose ``join`` says ``"membership":"summary"`` hears of members coming
and going in a big room as one ``members_changed`` per fan-out window, with the
seq it brings the player up to and the room's member count; a client that
did not ask (v1) and the host hear every change one by one, as before.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from tests.client import QuizClient, assert_no_seq_gap, room_view
from tests.conftest import RunningServer, create_room, join

BIG_ROOM = 3  # members online from which the room coalesces (the shipped 100, made small)
WINDOW_S = 0.05
MEMBERSHIP = {"member_joined", "member_left", "member_online", "member_offline"}


async def join_for_summaries(client: QuizClient, code: str, name: str) -> dict:
    message = {"type": "join", "code": code, "name": name, "membership": "summary"}
    reply = await client.request(message, "state")
    assert reply["type"] == "state", reply
    return reply


def last_seq(client: QuizClient) -> int:
    return max((m["seq"] for m in client.received if "seq" in m), default=-1)


async def read_up_to(client: QuizClient, seq: int) -> None:
    while last_seq(client) < seq:
        await client._read_more(5)


def record(witness: QuizClient) -> tuple[dict[int, str], dict[int, int]]:
    """What a client that hears every change saw: each seq's message type, and the
    member count after it."""
    types: dict[int, str] = {}
    counts: dict[int, int] = {}
    count = 0
    for message in witness.received:
        if "seq" not in message:
            continue
        if message["type"] == "state":
            count = len(message["room"]["members"])
        else:
            types[message["seq"]] = message["type"]
            count = message.get("count", count)
        counts[message["seq"]] = count
    return types, counts


def check_summaries(client: QuizClient, witness: QuizClient) -> list[dict]:
    """The seq rule for a client that asked for summaries, checked against a v1
    client that was in the room all along (``witness``):
    every room change after its ``state`` is the next seq, except that
    ``members_changed`` may jump ahead, and then only over membership changes; and
    its count is the room's count at that seq. Returns its members_changed."""
    types, counts = record(witness)
    last, summaries = None, []
    for message in client.received:
        if "seq" not in message:
            continue
        seq = message["seq"]
        if message["type"] == "state":
            assert last is None or seq >= last, (last, message)
        elif message["type"] == "members_changed":
            assert last is not None and seq > last, (last, message)
            skipped = {types[s] for s in range(last + 1, seq + 1)}
            assert skipped <= MEMBERSHIP, (last, message, skipped)
            assert message["count"] == counts[seq], (message, counts[seq])
            summaries.append(message)
        else:
            assert last is not None and seq == last + 1, (last, message)
        last = seq
    return summaries


@pytest.fixture
async def big_room_server(settings, clock):
    server = await RunningServer(
        replace(settings, fanout_coalesce_above=BIG_ROOM, fanout_window_s=WINDOW_S), clock
    ).start()
    yield server
    await server.stop()


async def test_players_who_ask_get_summaries_and_everyone_else_every_change(big_room_server, http, clock):
    server = big_room_server

    async def client() -> QuizClient:
        c = await QuizClient(http, server.ws_url).connect()
        await c.hello()
        return c

    host = await client()
    code, _ = await create_room(host, name="Host")
    sam = await client()  # asks for summaries
    await join_for_summaries(sam, code, "Sam")
    vee = await client()  # a v1 client: asks for nothing
    await join(vee, code, "Vee")
    # A small room (3 online): changes go out one by one, to Sam as well.
    joined_small = await sam.expect("member_joined")
    assert joined_small["member"]["name"] == "Vee"

    others = []
    for i in range(10):
        player = await client()
        if i % 2:
            await join_for_summaries(player, code, f"S{i}")
        else:
            await join(player, code, f"V{i}")
        others.append(player)
        if i == 4:
            clock.advance(WINDOW_S)  # one window closes with joins held
        if i == 6:
            # A change that is not coalesced, while joins are held: it comes after them.
            assert (await host.request({"type": "lock"}, "room_locked"))["type"] == "room_locked"
            await host.request({"type": "unlock"}, "room_unlocked")
    await others[0].request({"type": "leave"}, "left")  # member_left
    await others[2].close()  # member_offline
    await sam.request({"type": "resync"}, "state")  # a reply while changes are held
    # The host comes back on a new socket asking for summaries: the host still hears everything.
    first_host = host
    await first_host.request({"type": "resync"}, "state")  # the joins held so far come first
    await first_host.close()
    host = await client_with(http, server, first_host.token)
    await join_for_summaries(host, code, "Host")
    late = await client()
    await join(late, code, "Late")
    clock.advance(WINDOW_S)

    final = await host.request({"type": "resync"}, "state")
    everyone = {m["user_id"]: m for m in final["room"]["members"]}
    listeners = [sam, vee, late, *others[1:2], *others[3:]]
    for listener in listeners:
        await read_up_to(listener, final["seq"])
    await host.drain(0.1)

    # The host heard every join, one by one, and never a summary (on both its sockets).
    host_joined = [m["member"]["user_id"] for h in (first_host, host) for m in h.of_type("member_joined")]
    assert sorted(host_joined) == sorted({*everyone, others[0].user_id} - {host.user_id})
    assert assert_no_seq_gap(host) >= 1
    assert not first_host.of_type("members_changed") and not host.of_type("members_changed")

    # Sam: only summaries once the room is big, contiguous seqs, the right count.
    summaries = check_summaries(sam, vee)
    assert len(summaries) >= 3
    assert summaries[-1] == {"type": "members_changed", "seq": final["seq"], "count": len(everyone)}
    after_small = sam.received[sam.received.index(joined_small) + 1 :]
    assert not [m for m in after_small if m["type"] in MEMBERSHIP], "a member change one by one"
    locked = next(m for m in sam.received if m["type"] == "room_locked")
    before_lock = sam.received[: sam.received.index(locked)]
    assert before_lock[-1]["type"] == "members_changed" and before_lock[-1]["seq"] == locked["seq"] - 1
    # Sam's resync, asked while changes were held, describes the room at its seq:
    # in a big room, the host and Sam, and how many members there are.
    resynced = sam.of_type("state")[-1]
    assert [m["user_id"] for m in resynced["room"]["members"]] == [first_host.user_id, sam.user_id]
    assert resynced["room"]["member_count"] == next(
        m["count"] for m in reversed(summaries) if m["seq"] <= resynced["seq"]
    )
    # Its first state, in a small room, listed every member.
    assert "member_count" not in sam.of_type("state")[0]["room"]
    # The host's state lists everyone, whatever its join asked for; so does every v1 client's.
    assert "member_count" not in final["room"] and len(everyone) == 13
    for vee_state in vee.of_type("state"):
        assert "member_count" not in vee_state["room"] and len(vee_state["room"]["members"]) > 2

    # Vee, a v1 client, heard every change one by one, as before, and never a summary.
    assert not vee.of_type("members_changed")
    vee_state = vee.of_type("state")[0]
    assert assert_no_seq_gap(vee) == final["seq"] - vee_state["seq"]
    members, _ = room_view(vee)
    assert {u: m["online"] for u, m in members.items()} == {u: m["online"] for u, m in everyone.items()}
    vee_joined = [m["member"]["user_id"] for m in vee.of_type("member_joined")]
    assert sorted(vee_joined) == sorted([p.user_id for p in others] + [late.user_id])

    # The other players, each as it asked; every one ends at the room's seq and count.
    for index, player in [(1, others[1]), *((i, others[i]) for i in range(3, 10))]:
        if index % 2:
            assert check_summaries(player, vee)[-1]["count"] == len(everyone)
            joined_state = player.of_type("state")[0]["room"]
            assert [m["user_id"] for m in joined_state["members"]] == [first_host.user_id, player.user_id]
            assert joined_state["member_count"] == record(vee)[1][player.of_type("state")[0]["seq"]]
            assert not [m for m in player.received if m["type"] in MEMBERSHIP]  # it joined a big room
        else:
            assert not player.of_type("members_changed")
            assert_no_seq_gap(player)
            members, _ = room_view(player)
            assert set(members) == set(everyone)


async def client_with(http, server, token: str) -> QuizClient:
    c = await QuizClient(http, server.ws_url).connect()
    await c.hello(token)
    return c


async def test_a_game_after_summaries_keeps_the_seq_rule(big_room_server, http, clock):
    """After a summary, the next room change is the seq after it: no resync."""
    server = big_room_server
    host = await client_with_new(http, server)
    code, _ = await create_room(host)
    players = []
    for i in range(6):
        player = await client_with_new(http, server)
        await join_for_summaries(player, code, f"P{i}")
        players.append(player)
    clock.advance(WINDOW_S)
    shown = await host.request({"type": "start"}, "question_shown")
    for player in players:
        await read_up_to(player, shown["seq"])
        check_summaries(player, host)
        assert not player.of_type("error")
    last = players[-2]  # joined a big room, then heard of P5 joining by summary
    assert not [m for m in last.received if m["type"] in MEMBERSHIP]
    assert last.of_type("members_changed")[-1]["seq"] == shown["seq"] - 1


async def client_with_new(http, server) -> QuizClient:
    c = await QuizClient(http, server.ws_url).connect()
    await c.hello()
    return c


@pytest.mark.parametrize(
    ("membership", "words"),
    [
        ("everything", "Field 'membership' of 'join' must be 'full' or 'summary'"),
        (True, "Field 'membership' of 'join' has the wrong type"),
    ],
)
async def test_a_membership_the_server_does_not_know_is_refused_in_plain_words(connect, membership, words):
    host = await connect()
    code, _ = await create_room(host)
    player = await connect()
    message = {"type": "join", "code": code, "name": "Pat", "membership": membership}
    reply = await player.request(message, "state")
    assert reply["type"] == "error" and reply["code"] == "bad_message"
    assert words in reply["message"]
    assert (await join(player, code, "Pat"))["you"]["name"] == "Pat"  # nothing happened: it may join


async def test_asking_for_full_membership_is_v1(big_room_server, http, clock):
    """``"membership":"full"`` is what a client that says nothing gets."""
    host = await client_with_new(http, big_room_server)
    code, _ = await create_room(host)
    full = await client_with_new(http, big_room_server)
    await full.request({"type": "join", "code": code, "name": "Full", "membership": "full"}, "state")
    players = [await client_with_new(http, big_room_server) for _ in range(5)]
    for i, player in enumerate(players):
        await join(player, code, f"P{i}")
    clock.advance(WINDOW_S)
    await asyncio.wait_for(full.expect("member_joined", count=7), 5)
    assert not full.of_type("members_changed")
    assert assert_no_seq_gap(full) == 5
