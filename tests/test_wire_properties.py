"""Property test over the wire: whatever clients send, the server stays correct.

Hypothesis draws arbitrary frames (garbage text, binary, JSON of any shape) and
sequences of valid and invalid protocol messages from a host and two players,
with the server's clock moving in between. After each run: every reply is a
protocol message, no client saw a gap in ``seq``, and rebuilding the room from
the store by replay gives exactly the room the live actor holds.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
import uuid

import aiohttp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eventstore import EventStore
from quiz_actors.clock import ManualClock
from quiz_actors.domain.room import Room
from quiz_actors.protocol import MAX_FRAME_BYTES
from quiz_actors.server.keys import SYSTEM
from quiz_actors.settings import Settings
from tests.client import ConnectionClosed, QuizClient, assert_no_seq_gap
from tests.conftest import DEMO_QUIZ, RunningServer, create_room, join

SERVER_TYPES = {
    "welcome",
    "room_created",
    "state",
    "left",
    "member_joined",
    "member_offline",
    "member_online",
    "member_left",
    "member_kicked",
    "room_locked",
    "room_unlocked",
    "question_shown",
    "answer_accepted",
    "answers_progress",
    "question_closed",
    "leaderboard",
    "quiz_ended",
    "room_closed",
    "kicked",
    "error",
    "ping",
    "pong",
}
ERROR_CODES = {
    "bad_message",
    "unknown_type",
    "not_authenticated",
    "unauthorized",
    "replaced",
    "rate_limited",
    "room_not_found",
    "room_locked",
    "room_full",
    "room_closed",
    "kicked",
    "name_invalid",
    "name_taken",
    "not_member",
    "not_host",
    "not_player",
    "wrong_phase",
    "already_answered",
    "too_late",
    "bad_choice",
    "quiz_not_found",
    "busy",
    "internal",
}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10, 10**6) | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
message_types = st.sampled_from(
    [
        "hello",
        "create_room",
        "join",
        "leave",
        "resync",
        "start",
        "next",
        "end",
        "lock",
        "unlock",
        "kick",
        "answer",
        "ping",
        "pong",
        "nonsense",
    ]
)


@st.composite
def protocol_message(draw) -> dict:
    """A message of a real type whose fields are sometimes right, sometimes not."""
    kind = draw(message_types)
    message = {"type": kind}
    fields = {
        "answer": {"question": st.integers(-1, 4) | json_values, "choice": st.integers(-1, 5) | json_values},
        "kick": {"user_id": st.sampled_from(["@player", "@host", "nobody"]) | json_values},
        "join": {
            "code": st.sampled_from(["@code", "000000", ""]) | json_values,
            "name": st.sampled_from(["Zed", "ann", "", "x" * 30]) | json_values,
        },
        "create_room": {
            "quiz_id": st.sampled_from([DEMO_QUIZ, "nope"]) | json_values,
            "name": st.text(max_size=30),
        },
        "hello": {"token": st.none() | st.text(max_size=40)},
    }.get(kind, {})
    for name, strategy in fields.items():
        if draw(st.integers(0, 9)) > 0:  # now and then a required field is missing
            message[name] = draw(strategy)
    if draw(st.booleans()):
        message["ref"] = draw(st.integers(0, 100) | st.text(max_size=5) | json_values)
    return message


frames = st.one_of(
    protocol_message().map(lambda m: ("json", m)),
    json_values.map(lambda v: ("raw", json.dumps(v))),
    st.text(max_size=200).map(lambda t: ("raw", t)),
    st.binary(max_size=50).map(lambda b: ("binary", b)),
    st.just(("raw", "x" * (MAX_FRAME_BYTES + 10))),
)
actions = st.lists(
    st.tuples(st.sampled_from(["host", "ann", "ben"]), frames)
    | st.tuples(st.just("clock"), st.floats(0, 30)),
    min_size=1,
    max_size=25,
)


def resolve(message: dict, code: str, users: dict[str, str]) -> dict:
    """Put the real room code and user ids where the strategy left placeholders."""
    out = dict(message)
    if out.get("code") == "@code":
        out["code"] = code
    if out.get("user_id") == "@player":
        out["user_id"] = users["ann"]
    elif out.get("user_id") == "@host":
        out["user_id"] = users["host"]
    return out


def check_reply(message: dict) -> None:
    assert isinstance(message, dict) and message.get("type") in SERVER_TYPES, message
    if message["type"] == "error":
        assert message["code"] in ERROR_CODES, message
        assert "Traceback" not in message["message"] and 'File "' not in message["message"]


async def run_scenario(script) -> None:
    with tempfile.TemporaryDirectory() as folder:
        store = f"sqlite:///{folder}/events.sqlite3"
        clock = ManualClock()
        server = await RunningServer(
            Settings(store=store, player_messages_per_s=1000, player_burst=1000, heartbeat_s=10_000),
            clock,
        ).start()
        try:
            async with aiohttp.ClientSession() as http:
                clients = {}
                for who in ("host", "ann", "ben"):
                    clients[who] = await QuizClient(http, server.ws_url).connect()
                    await clients[who].hello()
                code, state = await create_room(clients["host"])
                await join(clients["ann"], code, "Ann")
                await join(clients["ben"], code, "Ben")
                users = {who: c.user_id for who, c in clients.items()}
                for who, action in script:
                    if who == "clock":
                        clock.advance(action)
                        continue
                    client = clients[who]
                    if client.ws.closed:
                        continue
                    kind, payload = action
                    try:
                        if kind == "binary":
                            await client.ws.send_bytes(payload)
                        elif kind == "json":
                            await client.send(resolve(payload, code, users))
                        else:
                            await client.send_raw(payload)
                    except (ConnectionResetError, RuntimeError):
                        pass
                for client in clients.values():
                    try:
                        await client.drain(0.3)
                    except ConnectionClosed:
                        pass
                for client in clients.values():
                    for message in client.received:
                        check_reply(message)
                    assert_no_seq_gap(client)

                # The live room equals the room rebuilt from the store alone.
                room_id = uuid.UUID(state["room"]["room_id"])
                # Ask the room actor first: by the time it answers, it has handled
                # everything sent to it, so the store holds all it will hold.
                loop = asyncio.get_running_loop()
                rooms = await loop.run_in_executor(None, lambda: server.app[SYSTEM].hub.proxy().rooms.get())
                live = None
                if str(room_id) in rooms:
                    live = await loop.run_in_executor(None, lambda: rooms[str(room_id)].proxy().room.get())
                replay_store = EventStore(store)
                try:
                    replayed = replay_store.load(room_id)
                finally:
                    replay_store.close()
                if live is not None:
                    assert _state(replayed) == _state(live)
                else:  # the clock ran past the room's cleanup time
                    assert replayed.phase == "closed"
        finally:
            await server.stop()


def _state(room: Room) -> dict:
    return {k: v for k, v in vars(room).items() if k != "_pending_events"}


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(actions)
def test_any_traffic_leaves_every_room_consistent(script):
    asyncio.run(run_scenario(script))
