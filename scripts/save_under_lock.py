"""How long a player waits when the events table is locked: a real server process on
PostgreSQL, rooms of two players, another connection holding the table lock while one
player of each room answers.

    .venv/bin/python scripts/save_under_lock.py --rooms 1 --hold-s 70
    .venv/bin/python scripts/save_under_lock.py --rooms 12 --hold-s 70

Prints, for each waiting player, what it heard first and when (seconds after its
answer), then whether the room carried on once the lock was released.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
import uuid
from pathlib import Path

import aiohttp
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.client import QuizClient  # noqa: E402
from tests.conftest import (  # noqa: E402
    POSTGRES_URL,
    create_room,
    free_port,
    join,
    server_process,
    stop_process,
    wait_until_up,
)

QUIZ = {
    "title": "Locked",
    "questions": [{"text": "Q", "choices": ["a", "b"], "correct": [0], "time_limit_s": 120}],
}


async def first_reply(client: QuizClient, started: float) -> tuple[str, float]:
    reply = await client.request(
        {"type": "answer", "question": 0, "choice": 1}, "answer_accepted", timeout=600
    )
    kind = reply["type"] if reply["type"] != "error" else f"error {reply['code']}"
    return kind, time.monotonic() - started


async def run(rooms: int, hold_s: float) -> None:
    schema = "m_" + uuid.uuid4().hex[:12]
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    port = free_port()
    base, ws = f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}/ws"
    store_url = f"{POSTGRES_URL}?schema={schema}"
    process = server_process(store_url, port, "--get-ready-s", "0", "--rooms-per-ip-per-minute", "1000")
    try:
        async with aiohttp.ClientSession() as http:
            await wait_until_up(http, base, process)
            async with http.post(base + "/api/quizzes", json=QUIZ) as response:
                body = await response.json()
                quiz_id = body["quiz_id"]
            waiting = []
            for _ in range(rooms):
                host = await QuizClient(http, ws).connect()
                await host.hello()
                code, _ = await create_room(host, quiz_id)
                ann, ben = [await QuizClient(http, ws).connect() for _ in range(2)]
                for client, name in ((ann, "Ann"), (ben, "Ben")):
                    await client.hello()
                    await join(client, code, name)
                await host.send({"type": "start"})
                await ann.expect("question_shown")
                await ann.request({"type": "answer", "question": 0, "choice": 0}, "answer_accepted")
                waiting.append(ben)

            lock = psycopg.connect(POSTGRES_URL)
            lock.execute(f"LOCK TABLE {schema}.quiz_events IN EXCLUSIVE MODE")
            started = time.monotonic()
            answers = [asyncio.ensure_future(first_reply(ben, started)) for ben in waiting]
            done, _ = await asyncio.wait(answers, timeout=hold_s)
            lock.rollback()
            lock.close()
            print(f"lock released after {time.monotonic() - started:.1f} s")
            for n, answer in enumerate(answers):
                if answer in done:
                    kind, seconds = answer.result()
                    print(f"room {n}: {kind} after {seconds:.1f} s (lock held)")
            for n, answer in enumerate(answers):
                if answer not in done:
                    kind, seconds = await answer
                    print(f"room {n}: {kind} after {seconds:.1f} s (after the release)")
    finally:
        stop_process(process)
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rooms", type=int, default=1)
    parser.add_argument("--hold-s", type=float, default=70.0)
    args = parser.parse_args()
    asyncio.run(run(args.rooms, args.hold_s))


if __name__ == "__main__":
    main()
