"""Rooms and members over real sockets, on both stores (issue: rooms and broadcasts)."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from tests.client import QuizClient, assert_no_seq_gap, room_view
from tests.conftest import RunningServer, create_room, join


async def test_host_creates_room_and_player_joins(connect):
    host = await connect()
    code, state = await create_room(host, name="Ms Host")
    assert len(code) == 6 and code.isdigit()
    assert state["room"]["phase"] == "lobby"
    assert [m["name"] for m in state["room"]["members"]] == ["Ms Host"]
    seat = state["you"].pop("seat")  # opaque: sent back with a later join (docs/protocol.md)
    assert isinstance(seat, str) and len(seat) == 22, seat
    assert state["you"] == {
        "user_id": host.user_id,
        "is_host": True,
        "score": 0,
        "name": "Ms Host",
        "answered": False,
    }

    alice = await connect()
    alice_state = await join(alice, code, "Alice")
    assert [m["name"] for m in alice_state["room"]["members"]] == ["Ms Host", "Alice"]
    assert alice_state["you"]["is_host"] is False
    joined = await host.expect("member_joined")
    assert joined["count"] == 2
    assert joined["member"] == {"user_id": alice.user_id, "name": "Alice", "online": True, "score": 0}
    assert joined["seq"] == state["seq"] + 1 == alice_state["seq"]


async def test_three_members_share_one_view_with_consecutive_seqs(connect):
    host = await connect()
    code, _ = await create_room(host)
    alice, bob = await connect(), await connect()
    await join(alice, code, "Alice")
    await join(bob, code, "Bob")
    await host.expect("member_joined", count=3)
    await alice.expect("member_joined", count=3)
    views = [room_view(c) for c in (host, alice, bob)]
    expected = {c.user_id for c in (host, alice, bob)}
    for members, seqs in views:
        assert set(members) == expected
        assert all(m["online"] for m in members.values())
        assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
    assert views[0][1][-1] == views[1][1][-1] == views[2][1][-1]


async def test_drop_and_rejoin_with_token_restores_the_member(connect):
    host = await connect()
    code, _ = await create_room(host)
    alice = await connect()
    await join(alice, code, "Alice")
    token, user_id = alice.token, alice.user_id
    await alice.close()
    offline = await host.expect("member_offline")
    assert offline["user_id"] == user_id

    again = await connect(token=token)
    assert again.user_id == user_id
    state = await join(again, code, "Whatever")
    online = await host.expect("member_online")
    assert online["user_id"] == user_id and online["seq"] == offline["seq"] + 1
    members = state["room"]["members"]
    assert [m["user_id"] for m in members].count(user_id) == 1
    assert next(m for m in members if m["user_id"] == user_id)["name"] == "Alice"
    assert state["seq"] == online["seq"]


async def test_second_socket_replaces_the_first(connect):
    host = await connect()
    code, _ = await create_room(host)
    first = await connect()
    await join(first, code, "Alice")
    second = await connect(token=first.token)
    assert second.user_id == first.user_id
    replaced = await first.expect("error", code="replaced")
    assert replaced["code"] == "replaced"
    assert await first.expect_closed() == 4000
    state = await join(second, code, "Alice")
    assert sum(1 for m in state["room"]["members"] if m["user_id"] == first.user_id) == 1
    # the newer socket carries on: it can resync
    assert (await second.request({"type": "resync"}, "state"))["type"] == "state"


REPLACEMENTS = 30  # reconnects raced in one run of the test below, on each store


async def test_a_replaced_sockets_late_join_never_knocks_its_successor_out(settings, clock, http):
    """P is in the room on socket A; P opens socket B with its token and sends
    hello and join without waiting, while A sends join at the same moment. B
    must carry on, every time: in the room, hearing its broadcasts, online."""
    server = await RunningServer(replace(settings, host_messages_per_s=1000, host_burst=1000), clock).start()
    try:
        await _race_replacements(server, http)
    finally:
        await server.stop()


async def _race_replacements(server: RunningServer, http) -> None:  # type: ignore[no-untyped-def]
    host = await QuizClient(http, server.ws_url).connect()
    await host.hello()
    code, _ = await create_room(host)
    current = await QuizClient(http, server.ws_url).connect()
    await current.hello()
    await join(current, code, "Pat")
    for attempt in range(REPLACEMENTS):
        successor = await QuizClient(http, server.ws_url).connect()
        await successor.send({"type": "hello", "token": current.token})
        await successor.send({"type": "join", "code": code, "name": "Pat", "ref": "b"})
        await current.send({"type": "join", "code": code, "name": "Pat", "ref": "a"})
        welcome = await successor.expect("welcome")
        assert welcome["user_id"] == current.user_id
        assert (await successor.expect("state", ref="b"))["you"]["user_id"] == current.user_id, attempt
        assert await current.expect_closed() == 4000
        # The newest socket is the member's: it hears the room, and the room sees it online.
        locked = await host.request({"type": "lock"}, "room_locked")
        assert (await successor.expect("room_locked", seq=locked["seq"]))["seq"] == locked["seq"], attempt
        await host.request({"type": "unlock"}, "room_unlocked")
        await successor.expect("room_unlocked")
        state = await successor.request({"type": "resync"}, "state")
        assert state["type"] == "state", (attempt, state)
        pat = next(m for m in state["room"]["members"] if m["user_id"] == current.user_id)
        assert pat["online"], (attempt, state)
        successor.user_id, successor.token = current.user_id, welcome["token"]
        current = successor
    seen_by_host = await host.request({"type": "resync"}, "state")
    assert next(m for m in seen_by_host["room"]["members"] if m["user_id"] == current.user_id)["online"]


async def test_server_restart_rebuilds_the_room_by_replay(connect, server, http):
    host = await connect()
    code, _ = await create_room(host)
    alice, bob = await connect(), await connect()
    await join(alice, code, "Alice")
    await join(bob, code, "Bob")
    await host.expect("member_joined", count=3)
    tokens = {c.user_id: c.token for c in (host, alice, bob)}

    await server.restart()

    back = await connect(token=tokens[alice.user_id])
    state = await join(back, code, "Alice")
    members = {m["user_id"]: m for m in state["room"]["members"]}
    assert set(members) == set(tokens)
    assert members[alice.user_id]["online"] is True
    assert members[host.user_id]["online"] is False  # nobody else has come back yet
    assert state["room"]["host_id"] == host.user_id
    host_back = await connect(token=tokens[host.user_id])
    host_state = await join(host_back, code, "Host")
    assert host_state["you"]["is_host"] is True
    assert host_state["seq"] == state["seq"] + 1


async def test_leave_tells_the_others(connect):
    host = await connect()
    code, _ = await create_room(host)
    alice = await connect()
    await join(alice, code, "Alice")
    left = await alice.request({"type": "leave"}, "left")
    assert left["type"] == "left"
    gone = await host.expect("member_left")
    assert gone["user_id"] == alice.user_id and gone["count"] == 1
    not_member = await alice.request({"type": "resync"}, "state")
    assert not_member["code"] == "not_member"


async def test_a_socket_closed_right_after_join_leaves_no_ghost(connect):
    host = await connect()
    code, _ = await create_room(host)
    for i in range(20):
        phone = await connect()
        await phone.send({"type": "join", "code": code, "name": f"Phone{i}"})
        await phone.close()  # gone before the join has been handled
    # Whoever made it in is marked offline: nobody stays online without a socket.
    # A join still on its way (through the hub) may land after any one resync,
    # so look until the joins have settled, for a bounded time.
    online: list[str] = []
    for _ in range(100):
        state = await host.request({"type": "resync"}, "state")
        online = [m["name"] for m in state["room"]["members"] if m["online"]]
        if online == ["Host"]:
            break
        await asyncio.sleep(0.05)
    assert online == ["Host"]
    for user_id in {m["member"]["user_id"] for m in host.of_type("member_joined")}:
        assert any(m["type"] == "member_offline" and m["user_id"] == user_id for m in host.received)


async def test_coalesced_membership_changes_keep_every_view_in_order(http, settings, clock):
    """With coalescing on from two members, joins, leaves and drops travel in
    batches; every client still sees every seq once, in order, and ends up with
    the room's real member list."""
    from dataclasses import replace

    from tests.client import QuizClient, assert_no_seq_gap
    from tests.conftest import RunningServer

    server = await RunningServer(
        replace(settings, fanout_coalesce_above=2, fanout_window_s=0.05), clock
    ).start()
    try:

        async def player(name):
            client = await QuizClient(http, server.ws_url).connect()
            await client.hello()
            await join(client, code, name)
            return client

        host = await QuizClient(http, server.ws_url).connect()
        await host.hello()
        code, _ = await create_room(host)
        players = []
        for i in range(8):
            players.append(await player(f"P{i}"))
            if i % 3 == 2:
                clock.advance(0.05)  # release what has been held so far
        await players[1].request({"type": "leave"}, "left")
        await players[2].close()
        await players[3].request({"type": "resync"}, "state")  # a reply in the middle of a held batch
        players.append(await player("Late"))
        clock.advance(0.05)
        final = await host.request({"type": "resync"}, "state")
        expected = {m["user_id"]: m["online"] for m in final["room"]["members"]}
        for client in [host, players[0], *players[3:]]:
            while room_view(client)[1][-1] < final["seq"]:
                await client._read_more(5)
            members, _ = room_view(client)
            assert {u: m["online"] for u, m in members.items()} == expected
            assert_no_seq_gap(client)
        assert (
            assert_no_seq_gap(host) == final["seq"] - 1
        )  # the host heard every change since it created the room
    finally:
        await server.stop()


@pytest.mark.parametrize("coalesce_above", [1000, 5], ids=["fan-out-at-once", "fan-out-coalesced"])
async def test_joins_arriving_together_give_every_member_an_exact_view(coalesce_above, settings, clock, http):
    """Joins queued together are saved in one commit (group commit). Each joiner's
    state already holds the joins saved with its own, so it must get no delta for
    them; everyone else gets each join once, in seq order; and after a restart the
    store holds every member."""
    server = await RunningServer(replace(settings, fanout_coalesce_above=coalesce_above), clock).start()
    try:
        host = await QuizClient(http, server.ws_url).connect()
        await host.hello()
        code, _ = await create_room(host)
        players = []
        for _ in range(40):
            player = await QuizClient(http, server.ws_url).connect()
            await player.hello()
            players.append(player)
        await asyncio.gather(
            *(p.send({"type": "join", "code": code, "name": f"P{i}"}) for i, p in enumerate(players))
        )
        for player in players:
            await player.expect("state")
        everyone = {c.user_id for c in (host, *players)}

        async def view_complete(client: QuizClient) -> None:
            while set(room_view(client)[0]) != everyone:
                clock.advance(settings.fanout_window_s)  # coalesced deltas wait for the room's timer
                await client.drain(0.05)

        await asyncio.wait_for(asyncio.gather(*(view_complete(c) for c in (host, *players))), 20)
        for client in (host, *players):
            assert assert_no_seq_gap(client) >= 0
            members, seqs = room_view(client)
            assert set(members) == everyone
            assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
            joined = [m["member"]["user_id"] for m in client.of_type("member_joined")]
            assert len(joined) == len(set(joined)), "a member announced twice"
            assert client.user_id not in joined
        assert room_view(host)[1][-1] == max(room_view(p)[1][-1] for p in players)

        await server.restart()
        back = await QuizClient(http, server.ws_url).connect()
        await back.hello(host.token)
        state = await join(back, code, "Host")
        assert {m["user_id"] for m in state["room"]["members"]} == everyone
    finally:
        await server.stop()


async def test_a_member_of_one_room_hears_why_another_room_refused_it(connect):
    """A socket in room A that asks to join room B gets B's refusal, with its ref:
    frames from a room it is not in are only dropped when it has left that room."""
    host_a, host_b = await connect(), await connect()
    code_a, _ = await create_room(host_a)
    code_b, _ = await create_room(host_b)
    assert (await host_b.request({"type": "lock"}, "room_locked"))["type"] == "room_locked"
    player = await connect()
    await join(player, code_a, "Pat")
    refused = await player.request({"type": "join", "code": code_b, "name": "Pat"}, "state")
    assert refused["type"] == "error" and refused["code"] == "room_locked"
    # Still in room A, and still hearing it.
    assert (await player.request({"type": "resync"}, "state"))["room"]["code"] == code_a


IDLE_ROOMS = 60


async def test_idle_rooms_do_not_cost_a_thread_each(settings, clock, http):
    import threading

    many = replace(
        settings,
        rooms_per_socket=IDLE_ROOMS,
        rooms_per_ip_per_minute=IDLE_ROOMS,
        host_messages_per_s=1000,
        host_burst=1000,
    )
    server = await RunningServer(many, clock).start()
    try:
        host = await QuizClient(http, server.ws_url).connect()
        await host.hello()
        await create_room(host)  # the first room starts whatever the rooms share
        before = threading.active_count()
        codes = [(await create_room(host))[0] for _ in range(IDLE_ROOMS - 1)]
        after = threading.active_count()
        # Every room is open and answers (a join reaches its actor)...
        player = await QuizClient(http, server.ws_url).connect()
        await player.hello()
        for code in codes[::10]:
            assert (await join(player, code, "Pat"))["type"] == "state"
        # ...yet 59 more rooms did not bring 59 more threads.
        assert after - before < IDLE_ROOMS // 3, (before, after)
    finally:
        await server.stop()
