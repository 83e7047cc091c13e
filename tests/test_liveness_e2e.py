"""Heartbeats, offline after missed pings, and room cleanup (issue: connection health)."""

from __future__ import annotations

import uuid
from dataclasses import replace

import pytest

from eventstore import EventStore
from quiz_actors.clock import SystemClock
from quiz_actors.settings import Settings
from tests.conftest import DEMO_QUIZ, RunningServer, create_room, join, open_client


async def heartbeat(clock, seconds, *answering):
    """One server heartbeat: every answering client gets its ping and its pong is processed."""
    clock.advance(seconds)
    for client in answering:
        await client.expect("ping")
        # resync goes through the same connection actor after the pong: once its
        # state is back, the server has seen the pong.
        await client.request({"type": "resync"}, "state")


async def test_silent_host_goes_offline_after_three_missed_pings(connect, clock, settings):
    host = await connect()
    code, _ = await create_room(host)
    ann = await connect()
    await join(ann, code, "Ann")
    host.answer_pings = False

    for _ in range(3):
        await heartbeat(clock, settings.heartbeat_s, ann)
        await host.expect("ping")
    assert not ann.of_type("member_offline")

    await heartbeat(clock, settings.heartbeat_s, ann)
    offline = await ann.expect("member_offline")
    assert offline["user_id"] == host.user_id
    assert await host.expect_closed() == 4001

    # The room is still open and joinable.
    ben = await connect()
    state = await join(ben, code, "Ben")
    hosts = [m for m in state["room"]["members"] if m["user_id"] == host.user_id]
    assert hosts[0]["online"] is False and state["room"]["phase"] == "lobby"


async def test_a_client_that_answers_pings_stays_online(connect, clock, settings):
    host = await connect()
    code, _ = await create_room(host)
    ann = await connect()
    await join(ann, code, "Ann")
    for _ in range(10):
        await heartbeat(clock, settings.heartbeat_s, host, ann)
    assert not ann.of_type("member_offline") and not host.of_type("member_offline")
    assert len(ann.of_type("ping")) == 10


async def test_client_ping_gets_pong(connect):
    client = await connect()
    await client.send({"type": "ping", "t": 12345})
    assert (await client.expect("pong"))["t"] == 12345


@pytest.fixture
async def quiet_server(settings, clock):
    """Heartbeats far apart, so moving the clock by minutes tests only the cleanup."""
    running = await RunningServer(replace(settings, heartbeat_s=100_000, sweep_interval_s=60), clock).start()
    yield running
    await running.stop()


async def test_ended_room_closes_after_five_quiet_minutes(quiet_server, http, clock):
    host = await open_client(http, quiet_server)
    code, _ = await create_room(host)
    ann = await open_client(http, quiet_server)
    await join(ann, code, "Ann")
    await host.send({"type": "end"})
    await ann.expect("quiz_ended")

    clock.advance(299)
    await ann.request({"type": "resync"}, "state")
    assert not ann.of_type("room_closed")
    clock.advance(2)
    closed = await ann.expect("room_closed")
    assert closed["reason"] == "inactive"
    assert (await host.expect("room_closed"))["seq"] == closed["seq"]

    eve = await open_client(http, quiet_server)
    reply = await eve.request({"type": "join", "code": code, "name": "Eve"}, "state")
    assert reply["code"] == "room_not_found"


async def test_abandoned_room_closes_after_the_idle_time(quiet_server, http, clock, settings):
    host = await open_client(http, quiet_server)
    code, state = await create_room(host)
    # The host leaving takes the last member offline; the reply comes once that is stored.
    assert (await host.request({"type": "leave"}, "left"))["type"] == "left"
    clock.advance(settings.idle_room_ttl_s + 1)
    eve = await open_client(http, quiet_server)
    reply = await eve.request({"type": "join", "code": code, "name": "Eve"}, "state")
    assert reply["code"] == "room_not_found"
    room_id = uuid.UUID(state["room"]["room_id"])
    await quiet_server.stop()
    store = EventStore(settings.store)
    try:
        room = store.load(room_id)
        assert room.phase == "closed" and room.closed_reason == "abandoned"
    finally:
        store.close()


async def test_sweep_closes_rooms_whose_time_passed_while_stopped(quiet_server, http, clock, settings):
    host = await open_client(http, quiet_server)
    code, state = await create_room(host)
    ann = await open_client(http, quiet_server)
    await join(ann, code, "Ann")
    kept_code, _ = await create_room(await open_client(http, quiet_server))

    await quiet_server.stop()  # members stay "online" in the store: nobody said goodbye
    clock.advance(settings.idle_room_ttl_s + 60)
    await quiet_server.start()

    # The sweep at start-up closed both rooms; nobody had to touch them.
    eve = await open_client(http, quiet_server)
    for dead in (code, kept_code):
        reply = await eve.request({"type": "join", "code": dead, "name": "Eve"}, "state")
        assert reply["code"] == "room_not_found"


async def test_room_with_someone_online_does_not_close(quiet_server, http, clock, settings):
    host = await open_client(http, quiet_server)
    code, _ = await create_room(host)
    clock.advance(settings.idle_room_ttl_s * 3)
    state = await host.request({"type": "resync"}, "state")
    assert state["room"]["phase"] == "lobby"


async def test_real_clock_marks_a_silent_client_offline_within_seconds(http, tmp_path):
    settings = Settings(store=f"sqlite:///{tmp_path}/events.sqlite3", heartbeat_s=0.5)
    server = await RunningServer(settings, SystemClock()).start()
    try:
        host = await open_client(http, server)
        code, _ = await create_room(host)
        ann = await open_client(http, server)
        ann.answer_pings = False
        await join(ann, code, "Ann")
        offline = await host.expect("member_offline", timeout=5)
        assert offline["user_id"] == ann.user_id
        assert await ann.expect_closed(timeout=5) == 4001
        assert not [
            m for m in host.received if m["type"] == "member_offline" and m["user_id"] == host.user_id
        ]
    finally:
        await server.stop()


def test_liveness_settings_from_command_line_and_environment():
    env = {"QUIZ_HEARTBEAT_S": "2.5", "QUIZ_IDLE_ROOM_TTL_S": "90"}
    s = Settings.from_command_line(
        ["--heartbeat-s", "0.5", "--missed-pings", "5", "--ended-room-ttl-s", "1.5"], env
    )
    assert (s.heartbeat_s, s.missed_pings, s.ended_room_ttl_s, s.idle_room_ttl_s) == (0.5, 5, 1.5, 90.0)


async def test_room_creation_is_limited_per_socket_and_per_address(settings, clock, http):
    server = await RunningServer(
        replace(settings, rooms_per_socket=2, rooms_per_ip_per_minute=3), clock
    ).start()
    try:
        first = await open_client(http, server)
        codes = [(await create_room(first))[0] for _ in range(2)]
        refused = await first.request(
            {"type": "create_room", "quiz_id": DEMO_QUIZ, "name": "H"}, "room_created"
        )
        assert refused["type"] == "error" and refused["code"] == "rate_limited"
        assert "this connection" in refused["message"]
        second = await open_client(http, server)
        codes.append((await create_room(second))[0])  # the address's third room this minute
        refused = await second.request(
            {"type": "create_room", "quiz_id": DEMO_QUIZ, "name": "H"}, "room_created"
        )
        assert refused["code"] == "rate_limited" and "your address" in refused["message"]
        clock.advance(61)
        third = await open_client(http, server)
        codes.append((await create_room(third))[0])  # a new minute
        assert len(set(codes)) == 4
        # A refused creation harmed no room: each is still there to join.
        for code in codes:
            player = await open_client(http, server)
            assert (await join(player, code, "Pat"))["type"] == "state"
    finally:
        await server.stop()


async def test_a_room_nobody_joined_closes_soon_after_its_host_left(quiet_server, http, clock, settings):
    host = await open_client(http, quiet_server)
    unjoined, _ = await create_room(host)
    other_host = await open_client(http, quiet_server)
    joined, _ = await create_room(other_host)
    ann = await open_client(http, quiet_server)
    await join(ann, joined, "Ann")
    # Each reply comes once the member's going offline is stored.
    await ann.request({"type": "leave"}, "left")
    await host.request({"type": "leave"}, "left")
    await other_host.request({"type": "leave"}, "left")
    assert settings.unjoined_room_ttl_s + 1 < settings.idle_room_ttl_s
    clock.advance(settings.unjoined_room_ttl_s + 1)
    eve = await open_client(http, quiet_server)
    reply = await eve.request({"type": "join", "code": unjoined, "name": "Eve"}, "state")
    assert reply["code"] == "room_not_found"
    # A room someone did join waits for the full idle time.
    assert (await join(eve, joined, "Eve"))["type"] == "state"
