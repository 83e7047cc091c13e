"""Names without tricks, over real sockets: look-alikes, invisible characters,
the word filter and friendly random names (docs/protocol.md, "Names")."""

from __future__ import annotations

import asyncio
import re

import pytest

from quiz_actors.domain.friendly_names import ADJECTIVES, ANIMALS, PAIRS, friendly_name
from quiz_actors.domain.lookalikes import lookalike_key
from quiz_actors.domain.room import Room
from quiz_actors.domain.word_filter import rude_word_in
from quiz_actors.tools.room_events import summary
from tests.conftest import DEMO_QUIZ, create_room, join

FRIENDLY = re.compile(rf"^({'|'.join(ADJECTIVES)}) ({'|'.join(ANIMALS)})( \d+)?$")


async def _room_with(connect, *names: str, **options):
    host = await connect()
    created = await host.request(
        {"type": "create_room", "quiz_id": DEMO_QUIZ, "name": "Host", **options}, "room_created"
    )
    assert created["type"] == "room_created", created
    code = created["code"]
    state = await host.expect("state")
    players = []
    for name in names:
        player = await connect()
        await join(player, code, name)
        players.append(player)
    return host, code, state, players


async def _refused(connect, code: str, name: str) -> dict:
    newcomer = await connect()
    reply = await newcomer.request({"type": "join", "code": code, "name": name}, "state")
    assert reply["type"] == "error", f"{name!r} was let in: {reply}"
    return reply


@pytest.mark.parametrize(
    "taken, lookalike",
    [
        ("Ann", "\u0410nn"),  # Cyrillic capital A
        ("Ann", "\u0391nn"),  # Greek capital alpha
        ("Ann", "ANN"),  # case
        ("Ann", "\u0430nn"),  # Cyrillic small a, and case
        ("Alice", "AIice"),  # capital I for small l
        ("Bob", "B0b"),  # zero for O
        ("paypal", "p\u0430yp\u0430l"),  # mixed scripts: Latin with two Cyrillic a
        ("Emma", "Ernrna"),  # "rn" for "m"
        ("Ann", "\uff21nn"),  # a fullwidth A
    ],
)
async def test_a_lookalike_of_a_name_in_the_room_is_refused_naming_it(connect, taken, lookalike):
    host, code, _, _ = await _room_with(connect, taken)
    error = await _refused(connect, code, lookalike)
    assert error["code"] == "name_taken"
    assert error["clash"] == taken
    assert f"“{taken}”" in error["message"] or f"called {taken}" in error["message"]
    if lookalike.casefold() != taken.casefold():
        assert error["message"] == f"“{lookalike}” looks the same as “{taken}”, already in the room"
    # The room is as it was: a resync shows the two members only.
    state = await host.request({"type": "resync"}, "state")
    assert sorted(m["name"] for m in state["room"]["members"]) == sorted(["Host", taken])


async def test_names_that_only_resemble_each_other_are_both_let_in(connect):
    _, code, _, _ = await _room_with(connect, "Ann", "Anne", "Zoe", "Zoë", "Lena", "Léna", "Sam", "5am")
    late = await connect()
    state = await join(late, code, "Jürgen")
    assert len(state["room"]["members"]) == 10


async def test_a_lookalike_of_the_host_is_refused(connect):
    host = await connect()
    code, _ = await create_room(host, name="Ms Smith")
    error = await _refused(connect, code, "Ms Srnith")
    assert (error["code"], error["clash"]) == ("name_taken", "Ms Smith")


async def test_a_name_is_free_again_once_its_holder_has_left(connect):
    host, code, _, (ann,) = await _room_with(connect, "Ann")
    await ann.request({"type": "leave"}, "left")
    await host.expect("member_left")
    newcomer = await connect()
    state = await join(newcomer, code, "\u0410nn")
    assert "\u0410nn" in [m["name"] for m in state["room"]["members"]]


@pytest.mark.parametrize(
    "name, shown",
    [
        ("Ann\u200b", "U+200B (ZERO WIDTH SPACE)"),
        ("\u202eAnn", "U+202E (RIGHT-TO-LEFT OVERRIDE)"),
        ("A\u2066nn\u2069", "U+2066 (LEFT-TO-RIGHT ISOLATE)"),
        ("An\u00adn", "U+00AD (SOFT HYPHEN)"),
        ("Ann\u3164", "U+3164 (HANGUL FILLER)"),
        ("Ann\ufeff", "U+FEFF (ZERO WIDTH NO-BREAK SPACE)"),
        ("Bo\u200db", "U+200D (ZERO WIDTH JOINER)"),  # a joiner outside an emoji joins nothing
    ],
)
async def test_invisible_and_direction_characters_are_refused_by_name(connect, name, shown):
    _, code, _, _ = await _room_with(connect)
    error = await _refused(connect, code, name)
    assert error["code"] == "name_invalid"
    assert error["message"] == (
        f"A name must not contain invisible or text-direction characters: it has {shown}"
    )


async def test_joiners_that_scripts_and_emoji_need_are_allowed(connect):
    _, code, _, _ = await _room_with(connect)
    family = "\U0001f469\u200d\U0001f467"  # woman, ZWJ, girl: one emoji
    persian = "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645"  # ZWNJ between two letters
    for name in (family, persian):
        state = await join(await connect(), code, name)
        assert name in [m["name"] for m in state["room"]["members"]]


@pytest.mark.parametrize(
    "name",
    [
        "fuck",
        "FUCK",
        "F.u.c.k",
        "f u c k",
        "Fuck_You",
        "sh1t",
        "5H1T",
        "$h!t",
        "b1tch",
        "pUt4",
        "Hure",
        "c0ñ0",
        "s h i t",  # single letters spelt out, whatever stands between them
        "s.h.i.t",
        "S-H-1-T",
        "fuuuuck",  # letters said more than once
        "Shiiiit",
        "A S S",  # a short word, spelt out
        "Ms Bitch",  # a listed word beside an ordinary one
        "xXbullshitXx",  # a long word inside a longer one
        "Sch31ße",
        "Аss",  # a Cyrillic A
        "sh！t",  # symbols for letters in their full-width forms, as a phone's keyboard may give them
        "＄hit",
        "＠ss",
    ],
)
async def test_the_word_filter_refuses_a_listed_word_in_disguise(connect, name):
    host, code, state, _ = await _room_with(connect)
    assert state["room"]["word_filter"] is True  # on in a new room
    error = await _refused(connect, code, name)
    assert error["code"] == "name_not_allowed"
    assert error["message"] == "This room does not allow that name: please choose another"
    assert name.lower() not in error["message"].lower()


# Real names and words that hold a listed word (the Scunthorpe problem): a short listed
# word only counts as a word of its own, a long one not inside these words, and none
# across two words ("Clever Gazelle" holds the Spanish "verga").
INNOCENT = [
    "Scunthorpe", "Cassidy", "Dickens", "Hancock", "Essex", "Sussex", "Matsushita",
    "assistant", "grape", "therapist", "Titus", "Clever Gazelle", "Cassandra", "Assia",
    "Hitchcock", "Analía", "Pedro", "Penistone", "Cockburn", "Arsenal", "Shitake",
    "Analyst", "Cumberbatch", "Montenegro", "Corina", "Vergara", "Fischer", "Specialist",
    "Ana L.", "Bob", "Player 455", "Cummings", "Thorny", "Twinkle", "Maricarmen",
]  # fmt: skip


async def test_the_word_filter_lets_ordinary_names_through(connect):
    _, _, state, players = await _room_with(connect, *INNOCENT)
    assert len(players) == len(INNOCENT)
    assert [rude_word_in(name) for name in INNOCENT] == [None] * len(INNOCENT)


async def test_the_host_name_is_filtered_too(connect):
    host = await connect()
    reply = await host.request(
        {"type": "create_room", "quiz_id": DEMO_QUIZ, "name": "F.U.C.K"}, "room_created"
    )
    assert (reply["type"], reply["code"]) == ("error", "name_not_allowed")


async def test_a_room_created_without_the_filter_lets_the_word_in(connect):
    _, code, state, _ = await _room_with(connect, word_filter=False)
    assert state["room"]["word_filter"] is False
    joined = await join(await connect(), code, "F.u.c.k")
    assert "F.u.c.k" in [m["name"] for m in joined["room"]["members"]]


async def test_the_host_switches_the_filter_and_everyone_hears_it(connect, server):
    host, code, _, (alice,) = await _room_with(connect, "Alice")
    changed = await host.request({"type": "set_name_rules", "word_filter": False}, "name_rules_changed")
    heard = await alice.expect("name_rules_changed")
    assert (
        heard
        == changed
        == {
            "type": "name_rules_changed",
            "seq": changed["seq"],
            "word_filter": False,
            "friendly_names": False,
        }
    )
    await join(await connect(), code, "sh1t")
    # The rule is an event: it holds after a restart.
    host_token = host.token
    await server.restart()
    back = await connect(token=host_token)
    state = await join(back, code, "Host")
    assert state["room"]["word_filter"] is False
    assert "sh1t" in [m["name"] for m in state["room"]["members"]]
    await back.request({"type": "set_name_rules", "word_filter": True}, "name_rules_changed")
    error = await _refused(connect, code, "5h1t")
    assert error["code"] == "name_not_allowed"


async def test_only_the_host_sets_the_name_rules(connect):
    _, _, _, (alice,) = await _room_with(connect, "Alice")
    reply = await alice.request({"type": "set_name_rules", "word_filter": False}, "name_rules_changed")
    assert (reply["type"], reply["code"]) == ("error", "not_host")
    bad = await alice.request({"type": "set_name_rules", "word_filter": "no"}, "name_rules_changed")
    assert (bad["type"], bad["code"]) == ("error", "bad_message")


async def test_friendly_names_are_given_out_unique_whatever_players_send(connect, server):
    host, code, state, _ = await _room_with(connect, friendly_names=True)
    assert state["room"]["friendly_names"] is True
    players, given = [], []
    for i in range(30):
        player = await connect()
        # Some send a name (ignored), some send none, one sends a rude one.
        message = {"type": "join", "code": code}
        if i % 3 == 1:
            message["name"] = "Alice"
        elif i == 2:
            message["name"] = "sh1t"
        reply = await player.request(message, "state")
        assert reply["type"] == "state", reply
        given.append(reply["you"]["name"])
        players.append(player)
    assert all(FRIENDLY.match(n) for n in given), given
    assert len({lookalike_key(n) for n in given}) == 30
    # A rejoin keeps the name; a restart keeps them all.
    tokens = [p.token for p in players[:3]]
    await server.restart()
    back = await connect(token=tokens[0])
    state = await join(back, code, "Anything")
    assert state["you"]["name"] == given[0]
    assert sorted(
        m["name"] for m in state["room"]["members"] if m["user_id"] != state["room"]["host_id"]
    ) == sorted(given)


async def test_friendly_names_stay_unique_when_many_join_at_once(connect):
    host, code, _, _ = await _room_with(connect, friendly_names=True)
    players = await asyncio.gather(*(connect() for _ in range(150)))
    # All the joins at once: the room decides them one after another.
    replies = await asyncio.gather(*(p.request({"type": "join", "code": code}, "state") for p in players))
    assert [r["type"] for r in replies] == ["state"] * 150
    given = [r["you"]["name"] for r in replies]
    assert all(FRIENDLY.match(n) for n in given), given
    assert len({lookalike_key(n) for n in given}) == 150
    # What the room holds is what each phone was told.
    state = await host.request({"type": "resync"}, "state")
    held = {m["user_id"]: m["name"] for m in state["room"]["members"]}
    assert all(held[r["you"]["user_id"]] == r["you"]["name"] for r in replies)


async def test_a_friendly_name_never_clashes_with_a_chosen_one(connect):
    host, code, _, _ = await _room_with(connect)
    chooser = await connect()
    # The name this player would get first, chosen by someone else before the mode changes.
    first_pick = friendly_name(chooser.user_id, lambda n: False)
    await join(await connect(), code, first_pick.upper())
    await host.request({"type": "set_name_rules", "friendly_names": True}, "name_rules_changed")
    state = await join(chooser, code, "")
    assert state["you"]["name"] != first_pick
    assert FRIENDLY.match(state["you"]["name"])


async def test_without_friendly_names_a_join_needs_a_name(connect):
    _, code, _, _ = await _room_with(connect)
    reply = await (await connect()).request({"type": "join", "code": code}, "state")
    assert (reply["type"], reply["code"]) == ("error", "name_invalid")


def test_every_friendly_name_is_clean_and_unlike_every_other():
    every = [f"{adjective} {animal}" for adjective in ADJECTIVES for animal in ANIMALS]
    assert len(every) == PAIRS
    assert len({lookalike_key(n) for n in every}) == PAIRS
    # Every name the generator can give, numbered ones too, passes the filter (all of them:
    # the lists are small), so a host who turns friendly names off again can keep them.
    assert [n for n in every if rude_word_in(n) or rude_word_in(f"{n} 12")] == []
    assert max(len(n) for n in every) + len(" 9999") <= 24
    # Past every pair, a number makes the name unique.
    assert friendly_name("a player", lambda n: FRIENDLY.match(n) is not None and " 2" not in n).endswith(" 2")


def test_the_replay_tools_say_what_a_change_of_name_rules_did():
    quiz = {"title": "T", "questions": [{"text": "Q", "choices": ["a", "b"], "correct": [0]}]}
    room = Room.open(code="123456", quiz_id="q", quiz=quiz, host_id="h", host_name="Host", at=1)
    assert (room.word_filter, room.friendly_names) == (True, False)
    assert room.set_name_rules("h", False, True, at=2) is True
    assert room.set_name_rules("h", False, None, at=3) is False  # nothing to change: no event
    event = room.collect_events()[-1]
    assert isinstance(event, Room.NameRulesChanged)
    assert summary(event, room, {}) == "name rules: word filter off, friendly names on"
