"""quiz-replay and quiz-audit, run as a user runs them, on games played through the server.

Games are played over real sockets on both stores; the server is stopped (or
idle) before the tools read the store. The tools run as subprocesses: the
console scripts the package installs, and once the files in scripts/.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from collections import Counter
from dataclasses import replace
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import psycopg
import pytest

from eventstore import EventStore
from quiz_actors.actors import hub as hub_module
from quiz_actors.domain.room import Room
from quiz_actors.tools.audit_model import AuditLog
from tests.client import apply_to_view
from tests.conftest import create_room, join, upload_quiz

BIN = Path(sys.executable).parent
SCRIPTS = Path(__file__).resolve().parent.parent / "scripts"

BROADCAST_TYPES = {
    "member_joined": "MemberJoined",
    "member_left": "MemberLeft",
    "member_offline": "MemberOffline",
    "member_online": "MemberOnline",
    "member_kicked": "MemberKicked",
    "room_locked": "RoomLocked",
    "room_unlocked": "RoomUnlocked",
    "question_shown": "QuestionShown",
    "question_closed": "QuestionClosed",
    "quiz_ended": "QuizEnded",
    "room_closed": "RoomClosed",
}


@pytest.fixture
def settings(settings):
    # No heartbeats while the manual clock jumps; ended rooms close after 5 s.
    return replace(settings, heartbeat_s=3600, ended_room_ttl_s=5)


# --------------------------------------------------------------------------- running the tools


def tool(name: str) -> list[str]:
    path = BIN / name
    assert path.exists(), f"{path} is missing: run .venv/bin/pip install -e '.[test]'"
    return [str(path)]


async def run(command: list[str], *args: str, expect: int | None = 0) -> subprocess.CompletedProcess:
    """Run a tool without blocking the server's event loop."""
    done = await asyncio.to_thread(
        subprocess.run, [*command, *args], capture_output=True, text=True, timeout=120
    )
    if expect is not None:
        assert done.returncode == expect, (
            f"{command} {args} -> {done.returncode}\n{done.stdout}\n{done.stderr}"
        )
    return done


async def replay(url: str, *args: str, expect: int | None = 0) -> subprocess.CompletedProcess:
    return await run(tool("quiz-replay"), "--store", url, *args, expect=expect)


async def audit(url: str, *args: str, expect: int | None = 0) -> subprocess.CompletedProcess:
    return await run(tool("quiz-audit"), "--store", url, *args, expect=expect)


def json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


# --------------------------------------------------------------------------- a game through the server


async def answer(client, question: int, choice: int) -> None:
    reply = await client.request(
        {"type": "answer", "question": question, "choice": choice}, "answer_accepted"
    )
    assert reply["type"] == "answer_accepted", reply


class Game:
    """Host, Ann, Ben and Dan play three questions; Cat leaves, Eve is kicked, Dan drops and comes back."""

    def __init__(self) -> None:
        self.clients: dict[str, object] = {}
        self.code = ""
        self.room_id = ""
        self.times: dict[str, int] = {}

    def __getitem__(self, name: str):
        return self.clients[name]

    def all_received(self) -> list[dict]:
        return [m for c in self.clients.values() for m in c.received]


async def lobby(game: Game, connect, http, server) -> None:
    quiz_id = await upload_quiz(http, server)
    host = game.clients["Host"] = await connect()
    game.code, state = await create_room(host, quiz_id, "Host")
    game.room_id = state["room"]["room_id"]
    for name in ("Ann", "Ben", "Dan", "Cat", "Eve"):
        game.clients[name] = await connect()
        await join(game.clients[name], game.code, name)
    await host.expect("member_joined", count=6)
    await game["Cat"].request({"type": "leave"}, "left")
    await host.expect("member_left")
    await host.send({"type": "kick", "user_id": game["Eve"].user_id})
    await game["Eve"].expect("kicked")
    await host.expect("member_kicked")
    await game["Dan"].close()
    await host.expect("member_offline")
    dan = game.clients["Dan"] = await connect(token=game["Dan"].token)
    await join(dan, game.code, "Dan")
    await host.expect("member_online")
    await host.request({"type": "lock"}, "room_locked")
    await host.request({"type": "unlock"}, "room_unlocked")


async def first_question(game: Game, clock) -> None:
    host, ann, ben, dan = game["Host"], game["Ann"], game["Ben"], game["Dan"]
    await host.send({"type": "start"})
    for c in (host, ann, ben, dan):
        await c.expect("question_shown", index=0)
    await answer(ann, 0, 1)  # right at once: 1000
    clock.advance(10)
    await answer(ben, 0, 1)  # right after 10 s: 750


async def rest_of_game(game: Game, clock) -> None:
    host, ann, ben, dan = game["Host"], game["Ann"], game["Ben"], game["Dan"]
    await answer(dan, 0, 0)  # wrong; everyone online has answered: closes
    for c in (host, ann, ben, dan):
        await c.expect("question_closed", index=0)
    await host.send({"type": "next"})
    for c in (host, ann, ben, dan):
        await c.expect("question_shown", index=1)
    clock.advance(5)
    await answer(ann, 1, 0)  # right after 5 s, double, streak 2: 1750 + 100
    await answer(ben, 1, 1)  # wrong
    await ben.request({"type": "resync"}, "state")  # a state in the middle of a question
    clock.advance(15.1)  # Dan stays silent: the deadline closes it
    for c in (host, ann, ben, dan):
        await c.expect("question_closed", index=1)
    await ann.request({"type": "resync"}, "state")  # a state during the reveal
    await host.send({"type": "next"})
    await ann.expect("question_shown", index=2)
    await answer(ann, 2, 2)  # right, but a "none" question: 0 points, streak 3
    await host.send({"type": "next"})  # skipped
    await ann.expect("question_closed", index=2)
    await host.send({"type": "next"})
    for c in (host, ann, ben, dan):
        await c.expect("quiz_ended")
    for c in (host, ann, ben, dan):
        await c.request({"type": "resync"}, "state")


async def play(connect, http, server, clock) -> Game:
    game = Game()
    await lobby(game, connect, http, server)
    await first_question(game, clock)
    await rest_of_game(game, clock)
    await server.stop()
    return game


# --------------------------------------------------------------------------- reading the store directly


def stored_room_events(url: str, room_id: str) -> list:
    store = EventStore(url)
    try:
        return store.stored_events(uuid.UUID(room_id))
    finally:
        store.close()


def all_notifications(url: str) -> list[tuple[int, object]]:
    store = EventStore(url)
    try:
        return [(n.id, store.mapper.to_domain_event(n)) for n in store.iter_notifications()]
    finally:
        store.close()


class RawEvents:
    """The stored events table itself, to tamper with one event."""

    def __init__(self, url: str):
        self.url = url
        parts = urlsplit(url)
        self.sqlite_path = parts.path[1:] if parts.scheme == "sqlite" else None
        self.schema = parse_qs(parts.query).get("schema", ["public"])[0]

    def get(self, room_id: str, version: int) -> tuple[str, dict]:
        if self.sqlite_path:
            with sqlite3.connect(self.sqlite_path) as db:
                topic, state = db.execute(
                    "SELECT topic, state FROM stored_events "
                    "WHERE originator_id = ? AND originator_version = ?",
                    (uuid.UUID(room_id).hex, version),
                ).fetchone()
        else:
            with psycopg.connect(self.url.split("?")[0]) as db:
                topic, state = db.execute(
                    f"SELECT topic, state FROM {self.schema}.quiz_events "
                    "WHERE originator_id = %s AND originator_version = %s",
                    (uuid.UUID(room_id), version),
                ).fetchone()
        return topic, json.loads(bytes(state))

    def put(self, room_id: str, version: int, topic: str, state: dict) -> None:
        data = json.dumps(state, separators=(",", ":")).encode()
        if self.sqlite_path:
            with sqlite3.connect(self.sqlite_path) as db:
                db.execute(
                    "UPDATE stored_events SET topic = ?, state = ? "
                    "WHERE originator_id = ? AND originator_version = ?",
                    (topic, data, uuid.UUID(room_id).hex, version),
                )
        else:
            with psycopg.connect(self.url.split("?")[0]) as db:
                db.execute(
                    f"UPDATE {self.schema}.quiz_events SET topic = %s, state = %s "
                    "WHERE originator_id = %s AND originator_version = %s",
                    (topic, data, uuid.UUID(room_id), version),
                )


def version_of(events: list, kind: str, **fields) -> int:
    for e in events:
        if type(e).__name__ == kind and all(getattr(e, k) == v for k, v in fields.items()):
            return e.originator_version
    raise AssertionError(f"no {kind} {fields}")


# --------------------------------------------------------------------------- replay


async def test_timeline_lists_every_event_in_order(connect, http, server, clock, store_url):
    game = await play(connect, http, server, clock)
    stored = stored_room_events(store_url, game.room_id)

    lines = json_lines((await replay(store_url, game.code, "--json")).stdout)
    events, state = [x for x in lines if x["kind"] == "event"], lines[-1]
    assert [(e["version"], e["type"]) for e in events] == [
        (e.originator_version, type(e).__name__) for e in stored
    ]
    assert [e["version"] for e in events] == list(range(1, len(stored) + 1))
    assert state["kind"] == "state" and state["version"] == len(stored)

    # Each broadcast the host heard is the event that took the room to that seq.
    first_at_seq = {}
    for e in events:
        first_at_seq.setdefault(e["seq"], e)
    heard = [m for m in game["Host"].received if m["type"] in BROADCAST_TYPES]
    assert heard
    for m in heard:
        assert first_at_seq[m["seq"]]["type"] == BROADCAST_TYPES[m["type"]], m
    assert sorted(first_at_seq) == list(range(1, events[-1]["seq"] + 1))

    # The essentials: who answered what, for how many points.
    answers = [
        (e["name"], e["fields"]["question"], e["fields"]["choice"], e["fields"]["points"])
        for e in events
        if e["type"] == "AnswerSubmitted"
    ]
    assert answers == [
        ("Ann", 0, 1, 1000),
        ("Ben", 0, 1, 750),
        ("Dan", 0, 0, 0),
        ("Ann", 1, 0, 1850),
        ("Ben", 1, 1, 0),
        ("Ann", 2, 2, 0),
    ]

    # The terminal table: one line per event, in the same order.
    text = (await replay(store_url, game.code)).stdout
    body = text.split("\n\n")[1].splitlines()[2:]
    assert [line.split()[4] for line in body] == [type(e).__name__ for e in stored]
    assert "Ann (" in text and "1850 points" in text
    assert "ranks: 1. Ann 2850, 2. Ben 750, 3. Dan 0" in text


async def test_state_at_each_seq_is_what_the_clients_saw(connect, http, server, clock, store_url):
    game = await play(connect, http, server, clock)
    host = game["Host"]
    final_seq = max(m["seq"] for m in host.received if "seq" in m)

    async def state_at(seq: int) -> dict:
        return json_lines((await replay(store_url, game.code, "--at", str(seq), "--json")).stdout)[-1]

    states = dict(
        zip(
            range(1, final_seq + 1),
            await asyncio.gather(*(state_at(s) for s in range(1, final_seq + 1))),
            strict=True,
        )
    )

    # Every `state` any client received is the replayed room at its seq, field for field.
    seen = [m for m in game.all_received() if m["type"] == "state"]
    assert {m["room"]["phase"] for m in seen} == {"lobby", "question", "reveal", "ended"}
    for m in seen:
        assert states[m["seq"]]["seq"] == m["seq"]
        assert states[m["seq"]]["room"] == m["room"], m["seq"]

    # Between states, the host's member list built from deltas matches the replay at every seq.
    view = {}
    for m in host.received:
        if "seq" in m:
            view = apply_to_view(view, m)
            replayed = {u["user_id"]: (u["name"], u["online"]) for u in states[m["seq"]]["room"]["members"]}
            assert {u: (v["name"], v["online"]) for u, v in view.items()} == replayed, m

    # Scores at the end are those the clients were told.
    ended = {
        name: c.of_type("quiz_ended")[-1]["you"]["score"]
        for name, c in game.clients.items()
        if name in ("Ann", "Ben", "Dan")
    }
    final = {u["name"]: u["score"] for u in states[final_seq]["room"]["members"]}
    assert ended == {"Ann": 2850, "Ben": 750, "Dan": 0}
    assert {k: final[k] for k in ended} == ended

    # --at-time and --at-version stop at the same points.
    shown_q1 = next(m for m in host.received if m["type"] == "question_shown" and m["index"] == 1)
    moment = (shown_q1["deadline_ms"] - 20_000) / 1000
    iso = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(moment)) + f".{int(moment * 1000) % 1000:03d}Z"
    at_time = json_lines((await replay(store_url, game.code, "--at-time", iso, "--json")).stdout)
    assert at_time[-1]["room"]["question"]["index"] == 1
    assert at_time[-1]["room"]["phase"] == "question"
    assert at_time[-2]["type"] == "QuestionShown"
    version = at_time[-1]["version"]
    at_version = json_lines(
        (await replay(store_url, game.code, "--at-version", str(version), "--json")).stdout
    )
    assert at_version[-1] == at_time[-1]

    text = (await replay(store_url, game.code, "--at", "2")).stdout
    assert "showing the first 2" in text and "at seq 2 (version 2)" in text


async def test_check_passes_on_a_real_game_and_names_a_tampered_event(
    connect, http, server, clock, store_url
):
    game = await play(connect, http, server, clock)
    stored = stored_room_events(store_url, game.room_id)
    ok = await replay(store_url, game.code, "--check")
    assert ok.stdout.startswith(f"OK: {len(stored)} events replayed")

    raw = RawEvents(store_url)
    ann, dan = game["Ann"].user_id, game["Dan"].user_id

    async def check_after(version: int, change) -> dict:
        topic, state = raw.get(game.room_id, version)
        new_topic, new_state = change(topic, dict(state))
        raw.put(game.room_id, version, new_topic, new_state)
        try:
            failed = await replay(store_url, game.code, "--check", expect=1)
            as_json = json_lines((await replay(store_url, game.code, "--check", "--json", expect=1)).stdout)[
                0
            ]
        finally:
            raw.put(game.room_id, version, topic, state)
        assert failed.stdout.startswith(f"FAILED at event v{version} {as_json['problem']['type']}: ")
        assert as_json["ok"] is False and as_json["problem"]["version"] == version
        assert as_json["events_checked"] == version - 1
        return as_json["problem"]

    # More points than the scoring rule gives.
    v = version_of(stored, "AnswerSubmitted", user_id=ann, question=0)
    problem = await check_after(v, lambda t, s: (t, {**s, "points": 5000}))
    assert problem["type"] == "AnswerSubmitted"
    assert "5000 points, streak 1; the scoring rule gives 1000 points, streak 1" in problem["message"]

    # An answer after its deadline.
    v = version_of(stored, "AnswerSubmitted", user_id=ann, question=1)
    shown = stored[version_of(stored, "QuestionShown", index=1) - 1]
    late = shown.deadline_at + 3000
    problem = await check_after(
        v, lambda t, s: (t, {**s, "received_at": late, "elapsed_ms": late - shown.shown_at})
    )
    assert "answer received 3000 ms after its deadline" in problem["message"]

    # A member counted twice: Dan's return rewritten as a second join.
    v = version_of(stored, "MemberOnline", user_id=dan)
    problem = await check_after(
        v, lambda t, s: (t.replace("MemberOnline", "MemberJoined"), {**s, "name": "Dan"})
    )
    assert problem["type"] == "MemberJoined"
    assert f"member counted twice: {dan} joined while already a member" in problem["message"]

    # An event that no longer decodes.
    v = version_of(stored, "QuestionClosed", index=0)
    problem = await check_after(v, lambda t, s: (t, {k: val for k, val in s.items() if k != "reason"}))
    assert problem["type"] == "QuestionClosed" and "replay failed: TypeError" in problem["message"]

    again = await replay(store_url, game.code, "--check")  # restored: clean again
    assert again.stdout.startswith("OK")


async def test_a_reused_code_takes_the_most_recent_room_and_says_so(
    connect, http, server, clock, store_url, monkeypatch
):
    codes = iter(["424242", "424242"])

    class Secrets:
        @staticmethod
        def randbelow(n: int) -> int:
            return int(next(codes, "0"))

    monkeypatch.setattr(hub_module, "secrets", Secrets)
    quiz_id = await upload_quiz(http, server)
    rooms = []
    host, ann = await connect(), await connect()
    for name in ("Ann", "Annie"):
        code, state = await create_room(host, quiz_id, "Host")
        assert code == "424242"
        await join(ann, code, name)
        await host.send({"type": "start"})
        await ann.expect("question_shown", index=0)
        await answer(ann, 0, 1)  # the only player: closes at once, 1000 points
        await host.send({"type": "end"})
        ended = await ann.expect("quiz_ended")
        clock.advance(6)  # the ended room closes, which frees its code
        await ann.expect("room_closed")
        rooms.append((state["room"]["room_id"], ended["you"]["score"]))
    await server.stop()
    (first, _), (second, _) = rooms

    latest = await replay(store_url, "424242", "--json")
    assert "code 424242 was used by 2 rooms" in latest.stderr
    assert "showing the most recent" in latest.stderr
    assert json_lines(latest.stdout)[-1]["room"]["room_id"] == second
    oldest = await replay(store_url, "424242", "--nth", "1", "--json")
    assert json_lines(oldest.stdout)[-1]["room"]["room_id"] == first
    by_id = await replay(store_url, "--room-id", first, "--json")
    assert json_lines(by_id.stdout)[-1]["room"]["room_id"] == first and not by_id.stderr
    assert "--nth must be 1 to 2" in (await replay(store_url, "424242", "--nth", "3", expect=2)).stderr

    rows = json_lines((await audit(store_url, "events", "--room", "424242", "--limit", "0", "--json")).stdout)
    assert {r["room_id"] for r in rows} == {second}
    rows = json_lines(
        (await audit(store_url, "events", "--room", "424242", "--nth", "1", "--limit", "0", "--json")).stdout
    )
    assert {r["room_id"] for r in rows} == {first}

    history = json_lines((await audit(store_url, "user", ann.user_id, "--json")).stdout)
    assert [(h["room_id"], h["names"], h["score"], h["role"], h["status"]) for h in history] == [
        (first, "Ann", 1000, "player", "closed"),
        (second, "Annie", 1000, "player", "closed"),
    ]
    hosted = json_lines((await audit(store_url, "user", host.user_id, "--json")).stdout)
    assert [(h["room_id"], h["role"], h["answers"], h["score"]) for h in hosted] == [
        (first, "host", 0, 0),
        (second, "host", 0, 0),
    ]


async def test_bad_input_exits_2_and_creates_nothing(tmp_path):
    missing = tmp_path / "nothing-here" / "events.sqlite3"
    url = f"sqlite:///{missing}"
    for command in (tool("quiz-replay") + ["123456"], tool("quiz-audit") + ["events"]):
        done = await run(command, "--store", url, expect=2)
        assert "no event store at" in done.stderr
    assert not missing.exists()
    done = await run(tool("quiz-replay"), "--store", "mysql://x/y", "123456", expect=2)
    assert "Unsupported store URL" in done.stderr


async def test_unknown_room_exits_2(connect, http, server, clock, store_url):
    await upload_quiz(http, server)
    await server.stop()
    assert "no room has ever had code 999999" in (await replay(store_url, "999999", expect=2)).stderr
    unknown = str(uuid.uuid4())
    assert f"no room has id {unknown}" in (await replay(store_url, unknown, expect=2)).stderr
    assert "no room has ever had code 999999" in (await audit(store_url, "game", "999999", expect=2)).stderr


# --------------------------------------------------------------------------- audit


def expected_rows(url: str) -> list[dict]:
    """What the audit log must hold, worked out from the store by the test's own reading of the events."""
    rows = []
    for nid, e in all_notifications(url):
        kind = type(e).__name__
        room = str(e.originator_id) if isinstance(e, Room.Event) else getattr(e, "room_id", None)
        rows.append(
            {
                "notification_id": nid,
                "event_type": kind,
                "room_id": room,
                "user_id": getattr(e, "user_id", None) or getattr(e, "host_id", None),
            }
        )
    return rows


async def test_audit_queries_return_exactly_the_expected_rows(connect, http, server, clock, store_url):
    game = await play(connect, http, server, clock)
    expected = expected_rows(store_url)
    ann, ben, dan = (game[n].user_id for n in ("Ann", "Ben", "Dan"))

    async def query(*args: str) -> list[dict]:
        return json_lines((await audit(store_url, "events", *args, "--json")).stdout)

    def ids(rows: list[dict]) -> list[int]:
        return [r["notification_id"] for r in rows]

    # Nothing is read from the store without a catch-up; every command does one first.
    assert json_lines((await audit(store_url, "--no-catch-up", "events", "--json")).stdout) == []

    # Everything in the room (its events and its code's assignment), oldest first.
    rows = await query("--room", game.code, "--oldest-first", "--limit", "0")
    assert sorted(ids(rows)) == [r["notification_id"] for r in expected if r["room_id"] == game.room_id]
    assert [(r["at_ms"], r["notification_id"]) for r in rows] == sorted(
        (r["at_ms"], r["notification_id"]) for r in rows
    )
    assert all(r["code"] == game.code for r in rows)
    assert {r["event_type"] for r in rows} >= {"RoomCreated", "CodeAssigned", "MemberKicked", "QuizEnded"}

    # One user, newest first, with the name they had in the room.
    rows = await query("--user", ann, "--limit", "0")
    assert sorted(ids(rows)) == [r["notification_id"] for r in expected if r["user_id"] == ann]
    assert [r["at_ms"] for r in rows] == sorted((r["at_ms"] for r in rows), reverse=True)
    assert {r["name"] for r in rows} == {"Ann"}

    # A type within a time range: the answers to question 1 (shown at t1, closed at its deadline t2).
    shown = next(m for m in game["Host"].received if m["type"] == "question_shown" and m["index"] == 1)
    t1, t2 = shown["deadline_ms"] - 20_000, shown["deadline_ms"]
    iso = [time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t / 1000)) + f".{t % 1000:03d}Z" for t in (t1, t2)]
    rows = await query("--type", "AnswerSubmitted", "--since", iso[0], "--until", iso[1], "--oldest-first")
    assert [
        (r["name"], r["fields"]["question"], r["fields"]["choice"], r["fields"]["points"]) for r in rows
    ] == [
        ("Ben", 0, 1, 750),
        ("Dan", 0, 0, 0),  # question 0's last answers came at t1: both bounds are inclusive
        ("Ann", 1, 0, 1850),
        ("Ben", 1, 1, 0),
    ]
    rows = await query(
        "--room", game.code, "--since", iso[0], "--until", iso[1], "--type", "QuestionShown,QuestionClosed"
    )
    # Question 1 closed 100 ms after its deadline, so after t2.
    assert [(r["event_type"], r["fields"]["index"]) for r in rows] == [
        ("QuestionShown", 1),
        ("QuestionClosed", 0),
    ]

    # Newest first with a limit: the room's last three events.
    rows = await query("--room", game.code, "--limit", "3")
    assert [r["event_type"] for r in rows] == ["QuizEnded", "QuestionClosed", "AnswerSubmitted"]
    assert [
        (r["event_type"], r["user_id"]) for r in await query("--user", dan, "--type", "MemberOffline")
    ] == [("MemberOffline", dan)]

    # The whole log: every event exactly once.
    everything = await query("--limit", "0")
    assert Counter(ids(everything)) == Counter(r["notification_id"] for r in expected)

    # The per-game report: one row per player per question, then ranks.
    report = json.loads((await audit(store_url, "game", game.code, "--json")).stdout)
    got = [
        (a["question"], a["name"], a["choice"], a["correct"], a["points"], a["elapsed_ms"])
        for a in report["answers"]
    ]
    assert got == [
        (0, "Ann", 1, True, 1000, 0),
        (0, "Ben", 1, True, 750, 10_000),
        (0, "Dan", 0, False, 0, 10_000),
        (1, "Ann", 0, True, 1850, 5000),
        (1, "Ben", 1, False, 0, 5000),
        (1, "Dan", None, False, 0, None),
        (2, "Ann", 2, True, 0, 0),
        (2, "Ben", None, False, 0, None),
        (2, "Dan", None, False, 0, None),
    ]
    podium = game["Ann"].of_type("quiz_ended")[-1]["podium"]
    assert report["ranks"] == podium
    assert [(r["rank"], r["name"], r["score"]) for r in podium] == [
        (1, "Ann", 2850),
        (2, "Ben", 750),
        (3, "Dan", 0),
    ]

    # ... as CSV, and from the script file as well as the console script.
    csv_text = (
        await run(
            [sys.executable, str(SCRIPTS / "audit.py")], "--store", store_url, "game", game.code, "--csv"
        )
    ).stdout
    table = list(csv.DictReader(io.StringIO(csv_text)))
    assert len(table) == 9
    assert table[3]["name"] == "Ann" and table[3]["points"] == "1850" and table[3]["final_rank"] == "1"
    assert table[5]["answered"] == "False" and table[5]["choice"] == "" and table[5]["final_score"] == "0"
    text = (await audit(store_url, "game", game.code)).stdout
    assert "Final ranks" in text and "Ann (" in text

    # Per-user history.
    for user, name, score in ((ann, "Ann", 2850), (ben, "Ben", 750), (game["Cat"].user_id, "Cat", 0)):
        history = json_lines((await audit(store_url, "user", user, "--json")).stdout)
        assert [(h["code"], h["names"], h["score"], h["status"]) for h in history] == [
            (game.code, name, score, "ended")
        ]
    text = (await audit(store_url, "user", ann)).stdout
    assert "1 room\n" in text and "2850" in text and "Three questions" in text


async def test_script_files_print_what_the_console_scripts_print(connect, http, server, clock, store_url):
    game = Game()
    await lobby(game, connect, http, server)
    await server.stop()
    by_file = await run([sys.executable, str(SCRIPTS / "replay.py")], "--store", store_url, game.code)
    by_console = await replay(store_url, game.code)
    assert by_file.stdout == by_console.stdout and "MemberKicked" in by_file.stdout


async def test_read_model_catches_up_after_a_restart_mid_game(connect, http, server, clock, store_url):
    game = Game()
    await lobby(game, connect, http, server)
    await first_question(game, clock)

    # A follower keeps the read model up to date while the game goes on.
    await audit(
        store_url, "catch-up"
    )  # creates the read model's tables before the follower and this test read them
    follower = subprocess.Popen(
        [*tool("quiz-audit"), "--store", store_url, "follow", "--poll", "0.1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        await caught_up(store_url)

        await server.restart()  # mid-question: Ann and Ben have answered question 0
        for name in ("Host", "Ann", "Ben", "Dan"):
            old = game[name]
            game.clients[name] = await connect(token=old.token)
            await join(game[name], game.code, name)
        await caught_up(store_url)
    finally:
        follower.send_signal(signal.SIGKILL)  # no clean stop: whatever it had not committed is lost
        follower.wait(timeout=10)

    await rest_of_game(game, clock)
    await server.stop()
    added = await audit(store_url, "catch-up")
    assert "new events projected" in added.stderr

    expected = expected_rows(store_url)
    rows = json_lines((await audit(store_url, "events", "--limit", "0", "--oldest-first", "--json")).stdout)
    assert Counter(r["notification_id"] for r in rows) == Counter(r["notification_id"] for r in expected)
    by_id = {r["notification_id"]: r for r in rows}
    for r in expected:
        assert (
            by_id[r["notification_id"]]["event_type"],
            by_id[r["notification_id"]]["room_id"],
            by_id[r["notification_id"]]["user_id"],
        ) == (r["event_type"], r["room_id"], r["user_id"])
    restarts = [
        r for r in rows if r["event_type"] == "MemberOffline" and r["fields"]["reason"] == "server_restart"
    ]
    assert {r["name"] for r in restarts} == {"Host", "Ann", "Ben", "Dan"}
    # The answers accepted before the restart count once, and the game report has them.
    report = json.loads((await audit(store_url, "game", game.code, "--json")).stdout)
    assert [(a["name"], a["points"]) for a in report["answers"] if a["question"] == 0] == [
        ("Ann", 1000),
        ("Ben", 750),
        ("Dan", 0),
    ]
    again = await audit(store_url, "catch-up")
    assert again.stderr.startswith("audit log: 0 new events projected")


async def caught_up(url: str, timeout: float = 20.0) -> None:
    """Wait until the audit read model has every event stored so far."""
    store, log = EventStore(url), AuditLog(url)
    try:
        target = store.max_notification_id()
        deadline = time.monotonic() + timeout
        while log.position() < target:
            assert time.monotonic() < deadline, f"audit log at {log.position()}, store at {target}"
            await asyncio.sleep(0.05)
        stored = sum(1 for nid, _ in all_notifications(url) if nid <= target)
        assert log.view.count_after(0) - log.view.count_after(target) == stored
    finally:
        log.close()
        store.close()


def test_the_console_scripts_are_installed():
    for name in ("quiz-replay", "quiz-audit"):
        done = subprocess.run(
            [*tool(name), "--help"],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "COLUMNS": "100"},
        )
        assert done.returncode == 0 and "--store" in done.stdout


# --------------------------------------------------------------------------- control characters


def _quiz_with(title: str = "T", text: str = "Q", choice: str = "a") -> dict:
    return {"title": title, "questions": [{"text": text, "choices": [choice, "b"], "correct": [0]}]}


async def test_control_characters_are_refused_and_a_stored_one_does_not_stop_the_audit(
    server, http, store_url
):
    upload = server.base_url + "/api/quizzes"
    for bad in (
        _quiz_with(title="x\u0000"),
        _quiz_with(text="ring\u0007"),
        _quiz_with(choice="\u001b[31mred"),
        _quiz_with(title="\u0085next line"),
    ):
        async with http.post(upload, json=bad) as response:
            assert response.status == 400, await response.text()
            error = (await response.json())["error"]
        assert error["code"] == "quiz_invalid"
        assert any("control character" in detail for detail in error["details"]), error
    async with http.post(upload, json=_quiz_with(text="Two lines:\n\tindented")) as response:
        assert response.status == 201  # ordinary whitespace is fine

    # A quiz stored by an earlier release, before NUL was refused, then one uploaded today.
    store = EventStore(store_url)
    try:
        from quiz_actors.domain.quiz import Quiz

        poison = Quiz(
            quiz_id=str(uuid.uuid4()), document={"title": "x\u0000y", "questions": []}, created_at=1
        )
        store.save(poison)
    finally:
        store.close()
    async with http.post(upload, json=_quiz_with(title="After")) as response:
        assert response.status == 201
        after_id = (await response.json())["quiz_id"]

    done = await audit(store_url, "events", "--type", "QuizCreated", "--json", "--limit", "0")
    rows = {row["aggregate_id"]: row for row in json_lines(done.stdout)}
    assert str(poison.id) in rows and after_id in rows
    # Shown with U+FFFD where the NUL was: PostgreSQL text cannot hold NUL.
    assert rows[str(poison.id)]["fields"]["document"]["title"] == "x\ufffdy"
    # And the projection goes on: a later catch-up still works.
    await audit(store_url, "catch-up")


async def test_an_event_the_read_model_cannot_hold_is_recorded_as_a_problem_and_the_audit_goes_on(
    server, http, connect, store_url
):
    # A room stored by an earlier release with a time no integer column holds.
    store = EventStore(store_url)
    try:
        from quiz_actors.quizzes import sample_quiz_id

        quiz = store.load(uuid.UUID(sample_quiz_id("quick-demo.json")))
        poison = Room.open(
            code="999999", quiz_id=str(quiz.id), quiz=quiz.document, host_id="h", host_name="H", at=10**20
        )
        store.save(poison)
    finally:
        store.close()
    host = await connect()
    code, state = await create_room(host)  # and a room played today, after it

    done = await audit(store_url, "events", "--json", "--limit", "0", "--oldest-first")
    rows = json_lines(done.stdout)
    problem = next(row for row in rows if row["aggregate_id"] == str(poison.id))
    assert "audit_error" in problem["fields"], problem
    assert any(row["aggregate_id"] == state["room"]["room_id"] for row in rows)
    assert "cannot be recorded as it is" in done.stderr
