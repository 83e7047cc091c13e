"""Bad input gets its docs/protocol.md error and never disturbs the room."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from tests.client import QuizClient, room_view
from tests.conftest import DEMO_QUIZ, RunningServer, create_room, join


async def _room_with_player(connect):
    host = await connect()
    code, _ = await create_room(host)
    alice = await connect()
    await join(alice, code, "Alice")
    await host.expect("member_joined")
    return host, alice, code


async def _assert_room_unchanged(host, alice, code):
    """Members and seq as before: a fresh state says so."""
    before_members, before_seqs = room_view(host)
    state = await host.request({"type": "resync"}, "state")
    assert state["seq"] == before_seqs[-1]
    assert {m["user_id"] for m in state["room"]["members"]} == set(before_members)
    assert all(m["online"] for m in state["room"]["members"])


@pytest.mark.parametrize(
    "frame, code",
    [
        ("not json at all", "bad_message"),
        ("[1, 2, 3]", "bad_message"),
        ('"just a string"', "bad_message"),
        ("{}", "bad_message"),
        ('{"type": 7}', "bad_message"),
        ('{"type": "teleport"}', "unknown_type"),
        ('{"type": "join", "code": 123456, "name": "X"}', "bad_message"),
        ('{"type": "join", "name": "X"}', "bad_message"),
        ('{"type": "answer", "question": "0", "choice": 1}', "bad_message"),
        ('{"type": "answer", "question": 0, "choice": true}', "bad_message"),
        ('{"type": "kick", "user_id": null}', "bad_message"),
        # Half a character (an unpaired surrogate escape) cannot be echoed or stored.
        ('{"type": "teleport", "ref": "\\ud800"}', "bad_message"),
        ('{"type": "\\udfff"}', "bad_message"),
        ('{"type": "resync", "x\\ud800": 1}', "bad_message"),
    ],
)
async def test_malformed_frames_get_errors_and_the_socket_stays_open(connect, frame, code):
    host, alice, room_code = await _room_with_player(connect)
    await alice.send_raw(frame)
    error = await alice.expect("error")
    assert error["code"] == code
    assert "Traceback" not in error["message"]
    await _assert_room_unchanged(host, alice, room_code)
    # the socket still works
    assert (await alice.request({"type": "resync"}, "state"))["type"] == "state"


async def test_error_echoes_ref(connect):
    alice = await connect()
    await alice.send_raw(json.dumps({"type": "nope", "ref": 42}))
    error = await alice.expect("error")
    assert error == {"type": "error", "code": "unknown_type", "message": error["message"], "ref": 42}


async def test_messages_before_hello_are_refused(connect):
    client = await connect(hello=False)
    await client.send({"type": "join", "code": "123456", "name": "Eve", "ref": "a"})
    error = await client.expect("error")
    assert error["code"] == "not_authenticated" and error["ref"] == "a"
    await client.hello()  # still usable


async def test_forged_token_is_unauthorized_and_closed(connect):
    client = await connect(hello=False)
    await client.send({"type": "hello", "token": "bm90LmEudG9rZW4.c2lnbmF0dXJl"})
    error = await client.expect("error")
    assert error["code"] == "unauthorized"
    assert await client.expect_closed() == 1008


async def test_no_hello_in_time_closes_with_policy(http, settings, clock):
    quick = await RunningServer(replace(settings, hello_timeout_s=0.3), clock).start()
    try:
        client = await QuizClient(http, quick.ws_url).connect()
        assert await client.expect_closed(timeout=5) == 1008
    finally:
        await quick.stop()


async def test_frame_over_16_kib_is_refused_with_1009(connect):
    host, alice, code = await _room_with_player(connect)
    await alice.send_raw(json.dumps({"type": "join", "code": code, "name": "x" * 17000}))
    assert await alice.expect_closed() == 1009
    offline = await host.expect("member_offline")
    assert offline["user_id"] == alice.user_id


async def test_unknown_code_is_room_not_found(connect):
    host, alice, code = await _room_with_player(connect)
    eve = await connect()
    other = "000000" if code != "000000" else "111111"
    reply = await eve.request({"type": "join", "code": other, "name": "Eve"}, "state")
    assert reply["type"] == "error" and reply["code"] == "room_not_found"
    reply = await eve.request({"type": "join", "code": "abc", "name": "Eve"}, "state")
    assert reply["code"] == "room_not_found"
    await _assert_room_unchanged(host, alice, code)


@pytest.mark.parametrize(
    "name, code",
    [
        ("", "name_invalid"),
        ("   ", "name_invalid"),
        ("x" * 25, "name_invalid"),
        ("bad\u0007name", "name_invalid"),
        ("ALICE", "name_taken"),
        ("  alice ", "name_taken"),
        # Nothing visible: a zero-width space, bidi controls, a Hangul filler, a blank Braille cell.
        ("\u200b", "name_invalid"),
        ("\u200b \u202e\u2066", "name_invalid"),
        ("\u3164", "name_invalid"),
        ("\u2800\u2800", "name_invalid"),
        ("\u0301", "name_invalid"),
        # "Alice" with invisible or bidirectional-control characters: refused as such
        # (tests/test_names_e2e.py checks what the message says).
        ("Alice\u200b", "name_invalid"),
        ("\u202eAlice", "name_invalid"),
        ("Al\u200dice", "name_invalid"),
        ("A\u00adlice\u2069", "name_invalid"),
        ("Alice\u3164", "name_invalid"),
    ],
)
async def test_invalid_or_duplicate_names(connect, name, code):
    host, alice, room_code = await _room_with_player(connect)
    bob = await connect()
    reply = await bob.request({"type": "join", "code": room_code, "name": name}, "state")
    assert reply["type"] == "error" and reply["code"] == code
    await _assert_room_unchanged(host, alice, room_code)


async def test_names_are_trimmed_and_nfc_normalised(connect):
    host, alice, code = await _room_with_player(connect)
    bob = await connect()
    state = await join(bob, code, "  Zoe\u0301  ")  # e + combining accent
    names = [m["name"] for m in state["room"]["members"]]
    assert "Zo\u00e9" in names
    chloe = await connect()
    reply = await chloe.request({"type": "join", "code": code, "name": "zo\u00e9"}, "state")
    assert reply["code"] == "name_taken"


async def test_format_characters_are_refused_in_names_but_emoji_keep_their_joiner(connect):
    host = await connect()
    reply = await host.request(
        {"type": "create_room", "quiz_id": DEMO_QUIZ, "name": "\u202eHost\u200b"}, "room_created"
    )
    assert (reply["type"], reply["code"]) == ("error", "name_invalid")
    code, _ = await create_room(host, name="Host")
    bob = await connect()
    reply = await bob.request({"type": "join", "code": code, "name": "B\u200bo\u2066b"}, "state")
    assert (reply["type"], reply["code"]) == ("error", "name_invalid")
    # Emoji sequences keep their joiner: a woman technologist stays one picture.
    coder = await connect()
    state = await join(coder, code, "\U0001f469\u200d\U0001f4bb")
    assert "\U0001f469\u200d\U0001f4bb" in [m["name"] for m in state["room"]["members"]]


async def test_create_room_with_unknown_quiz(connect):
    host = await connect()
    reply = await host.request({"type": "create_room", "quiz_id": "nope", "name": "H"}, "room_created")
    assert reply["code"] == "quiz_not_found"
    reply = await host.request(
        {"type": "create_room", "quiz_id": "00000000-0000-0000-0000-000000000000", "name": "H"},
        "room_created",
    )
    assert reply["code"] == "quiz_not_found"


async def test_room_commands_outside_a_room_are_not_member(connect):
    client = await connect()
    for kind in ("resync", "leave", "start", "answer"):
        message = {"type": kind}
        if kind == "answer":
            message.update(question=0, choice=0)
        reply = await client.request(message, "state")
        assert reply["code"] == "not_member"


def _strict_json(text: str) -> object:
    """RFC 8259 JSON only: what a browser's ``JSON.parse`` accepts (no NaN, no Infinity)."""

    def refuse(constant: str) -> object:
        raise AssertionError(f"the server sent {constant}, which is not JSON: {text}")

    return json.loads(text, parse_constant=refuse)


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e999", "-1e400"])
@pytest.mark.parametrize("before_hello", [True, False])
async def test_non_finite_numbers_are_bad_message_and_every_reply_is_strict_json(
    connect, number, before_hello
):
    client = await connect(hello=not before_hello)
    for frame in (
        f'{{"type":"ping","t":{number}}}',
        f'{{"type":"pong","t":{number}}}',
        f'{{"type":"answer","question":0,"choice":{number}}}',
        f'{{"type":"resync","ref":{number}}}',
        f'{{"type":"resync","extra":[{number}]}}',
    ):
        await client.ws.send_str(frame)
        reply = await client.ws.receive(timeout=10)
        assert reply.type.name == "TEXT", reply
        message = _strict_json(reply.data)
        assert message["type"] == "error" and message["code"] == "bad_message", (frame, message)
    # The socket is still usable, and its pong is strict JSON too.
    await client.ws.send_str('{"type":"ping","t":1.5}')
    pong = _strict_json((await client.ws.receive(timeout=10)).data)
    assert pong == {"type": "pong", "t": 1.5}
