"""Write tests/data/previous-release.sqlite3: a store as an earlier release left it.

Run against a checkout of that release, not against the current code (see
tests/data/README.md). It plays through the real server, over real sockets, on
the tests' manual clock:

* room A: a host and four players; Cat leaves, Eve is kicked, Ben drops and
  comes back, the host locks and unlocks; two questions are played (one closed
  by the last answer, one by its deadline), the quiz ends and the room closes,
  which frees its code;
* room B: a host and two players in the lobby; the host locks and unlocks it
  enough times for the store to snapshot the room; the server then stops, which
  takes everyone offline.

``previous-release.json`` beside the store keeps what a test cannot read back
from the events: each person's session token (signed with the store's own
key) and the clock's time at the end.

    python tests/data/make_previous_release_store.py tests/data/previous-release
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import sys
from pathlib import Path

import aiohttp

from quiz_actors.clock import ManualClock
from quiz_actors.settings import Settings
from tests.client import QuizClient
from tests.conftest import RunningServer, create_room, join

QUIZ = {
    "title": "Before the upgrade",
    "questions": [
        {"text": "Two plus two?", "choices": ["3", "4", "5"], "correct": [1], "time_limit_s": 20},
        {
            "text": "Largest planet?",
            "choices": ["Mars", "Jupiter"],
            "correct": [1],
            "time_limit_s": 10,
            "points": "double",
        },
    ],
}
LOCK_ROUNDS = 260  # 520 events in room B: past the store's snapshot every 500


async def answer(client: QuizClient, question: int, choice: int) -> None:
    reply = await client.request(
        {"type": "answer", "question": question, "choice": choice}, "answer_accepted"
    )
    assert reply["type"] == "answer_accepted", reply


async def play(url: str, clock: ManualClock) -> dict[str, object]:
    settings = Settings(
        store=url,
        hello_timeout_s=10,
        heartbeat_s=3600,
        ended_room_ttl_s=5,
        player_messages_per_s=10_000,
        player_burst=10_000,
        host_messages_per_s=10_000,
        host_burst=10_000,
    )
    server = await RunningServer(settings, clock).start()
    people: dict[str, QuizClient] = {}
    async with aiohttp.ClientSession() as http:

        async def connect(name: str, token: str | None = None) -> QuizClient:
            client = await QuizClient(http, server.ws_url).connect()
            await client.hello(token)
            people[name] = client
            return client

        async with http.post(server.base_url + "/api/quizzes", json=QUIZ) as response:
            assert response.status == 201, await response.text()
            quiz_id = (await response.json())["quiz_id"]

        # Room A: played to the end, then closed.
        host = await connect("Host")
        code_a, _ = await create_room(host, quiz_id, "Host")
        for name in ("Ann", "Ben", "Cat", "Eve"):
            await join(await connect(name), code_a, name)
        await host.expect("member_joined", count=4)
        await people["Cat"].request({"type": "leave"}, "left")
        await host.send({"type": "kick", "user_id": people["Eve"].user_id})
        await host.expect("member_kicked")
        await people["Ben"].close()
        await host.expect("member_offline")
        await join(await connect("Ben", people["Ben"].token), code_a, "Ben")
        await host.expect("member_online")
        await host.request({"type": "lock"}, "room_locked")
        await host.request({"type": "unlock"}, "room_unlocked")
        await host.send({"type": "start"})
        await people["Ann"].expect("question_shown", index=0)
        await answer(people["Ann"], 0, 1)  # right at once: 1000
        clock.advance(4)
        await answer(people["Ben"], 0, 0)  # wrong; all answered: closes
        await host.expect("question_closed", index=0)
        await host.send({"type": "next"})
        await people["Ann"].expect("question_shown", index=1)
        clock.advance(2)
        await answer(people["Ann"], 1, 1)  # right after 2 s, double, streak 2: 1800 + 100
        clock.advance(8.5)  # Ben stays silent: the deadline closes it
        await host.expect("question_closed", index=1)
        await host.send({"type": "next"})
        await host.expect("quiz_ended")
        clock.advance(6)  # the ended room closes and frees its code
        await host.expect("room_closed")

        # Room B: left open in the lobby, long enough to be snapshotted.
        hana = await connect("Hana")
        code_b, _ = await create_room(hana, quiz_id, "Hana")
        for name in ("Ann", "Dan"):
            await join(people[name] if name in people else await connect(name), code_b, name)
        for _ in range(LOCK_ROUNDS):
            await hana.request({"type": "lock"}, "room_locked")
            await hana.request({"type": "unlock"}, "room_unlocked")
        clock.advance(1)
        await server.stop()
    return {
        "clock_ms": clock.now_ms(),
        "codes": {"A": code_a, "B": code_b},
        "users": {name: {"user_id": c.user_id, "token": c.token} for name, c in people.items()},
    }


def main(out: str) -> None:
    path = Path(out).with_suffix(".sqlite3")
    if path.exists():
        path.unlink()
    facts = asyncio.run(play(f"sqlite:///{path.resolve()}", ManualClock()))
    # One self-contained file: fold the write-ahead log in.
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        db.execute("PRAGMA journal_mode=DELETE")
    path.with_suffix(".json").write_text(json.dumps(facts, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main(sys.argv[1])
