"""How long a player waits for a join that has to load its room while the database
is down: a real server process restarted (its rooms are no longer in memory), then
the database stopped (a private PostgreSQL, ``--stop``) or the server's connection
to it cut (a forwarder, ``--cut``), then a player joins.

    .venv/bin/python scripts/load_while_down.py --stop
    .venv/bin/python scripts/load_while_down.py --cut

Prints what the player heard first and when (seconds after the join), then how the
same join goes once the database is back. The private PostgreSQL needs initdb and
the postgres user (tests/private_postgres.py).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.client import QuizClient  # noqa: E402
from tests.cluster_nodes import PostgresForwarder  # noqa: E402
from tests.conftest import (  # noqa: E402
    create_room,
    free_port,
    join,
    server_process,
    stop_process,
    wait_until_up,
)
from tests.private_postgres import PrivatePostgres, find_pg_bin  # noqa: E402

QUIZ = {
    "title": "Down",
    "questions": [{"text": "Q", "choices": ["a", "b"], "correct": [0], "time_limit_s": 120}],
}


async def timed_join(http: aiohttp.ClientSession, ws: str, code: str) -> tuple[str, float]:
    ben = await QuizClient(http, ws).connect()
    await ben.hello()
    started = time.monotonic()
    reply = await ben.request({"type": "join", "code": code, "name": "Ben"}, "state", timeout=120)
    seconds = time.monotonic() - started
    await ben.close()
    kind = reply["type"] if reply["type"] != "error" else f"error {reply['code']}: {reply.get('message')}"
    return kind, seconds


async def run(cut: bool) -> None:
    bin_dir = find_pg_bin()
    if bin_dir is None:
        raise SystemExit("needs PostgreSQL's initdb")
    pg = PrivatePostgres(bin_dir).init()
    pg.start()
    forwarder = await PostgresForwarder(pg.port).start() if cut else None
    store_url = pg.url.replace(str(pg.port), str(forwarder.port)) if forwarder else pg.url
    port = free_port()
    base, ws = f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}/ws"
    process = server_process(store_url, port)
    try:
        async with aiohttp.ClientSession() as http:
            await wait_until_up(http, base, process)
            async with http.post(base + "/api/quizzes", json=QUIZ) as response:
                quiz_id = (await response.json())["quiz_id"]
            host = await QuizClient(http, ws).connect()
            await host.hello()
            code, _ = await create_room(host, quiz_id)
            ann = await QuizClient(http, ws).connect()
            await ann.hello()
            await join(ann, code, "Ann")
            await host.close()
            await ann.close()
            stop_process(process)

            process = server_process(store_url, port)  # its rooms are in the store only
            await wait_until_up(http, base, process)
            if forwarder is not None:
                await forwarder.cut()
            else:
                pg.stop()
            kind, seconds = await timed_join(http, ws, code)
            print(f"database {'cut off' if cut else 'stopped'}: {kind} after {seconds:.1f} s")
            if forwarder is not None:
                await forwarder.start()
            else:
                pg.start()
            # As a phone would: the same join again, once a second, until it is accepted.
            back, attempts = time.monotonic(), 1
            kind, seconds = await timed_join(http, ws, code)
            while kind != "state" and attempts < 30:
                await asyncio.sleep(1)
                attempts += 1
                kind, seconds = await timed_join(http, ws, code)
            print(
                f"database back: {kind} after {seconds:.1f} s, attempt {attempts},"
                f" {time.monotonic() - back:.1f} s after the database was started again"
            )
    finally:
        stop_process(process)
        pg.destroy()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    how = parser.add_mutually_exclusive_group()
    how.add_argument("--stop", action="store_true", help="stop the private PostgreSQL (the default)")
    how.add_argument("--cut", action="store_true", help="cut the server's connection to it")
    args = parser.parse_args()
    asyncio.run(run(args.cut))


if __name__ == "__main__":
    main()
