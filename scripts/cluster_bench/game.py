"""What hosts and players do in the cluster benchmark: over real WebSockets, through
HAProxy as the web client does (``?room=CODE``, redirects followed)."""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass, field

import aiohttp

from cluster_bench.harness import Bench
from tests.client import ConnectionClosed, QuizClient
from tests.cluster_nodes import connect, enter
from tests.conftest import create_room

WAIT_S = 60  # any one wait for a reply; a bound on a hung run, not a target


def quiz(questions: int) -> dict:
    return {
        "title": "Cluster benchmark",
        "questions": [
            {"text": f"Pick b ({n + 1})", "choices": ["a", "b", "c"], "correct": [1], "time_limit_s": 240}
            for n in range(questions)
        ],
    }


@dataclass
class Room:
    host: QuizClient
    code: str
    owner: str  # the node that created it (HAProxy's round robin)
    room_id: str = ""
    players: list[QuizClient] = field(default_factory=list)
    redirects: list[int] = field(default_factory=list)

    @property
    def everyone(self) -> list[QuizClient]:
        return [self.host, *self.players]

    async def close(self) -> None:
        await asyncio.gather(*(client.close() for client in self.everyone))


async def join(bench: Bench, code: str, token: str | None, hint: str | None, deadline: float):
    """Into the room through HAProxy, trying again while a socket fails (a node just died);
    an error reply (``busy``) is not retried."""
    while True:
        try:
            return await enter(bench.http, bench.proxy.ws, code, f"P{uuid.uuid4().hex[:8]}", token, hint)
        except (TimeoutError, OSError, ConnectionClosed, AssertionError, aiohttp.ClientError):
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.1)


async def open_room(bench: Bench, players: int) -> Room:
    host = await connect(bench.http, bench.proxy.ws)  # no room yet: round robin
    code, _ = await create_room(host, bench.quiz_id)
    room = Room(host, code, host.ws._response.headers["X-Quiz-Node"])
    deadline = time.monotonic() + WAIT_S
    joined = await asyncio.gather(*(join(bench, code, None, None, deadline) for _ in range(players)))
    room.players = [client for client, *_ in joined]
    room.redirects = [redirects for _, _, redirects, _ in joined]
    room.room_id = joined[0][1]["room"]["room_id"]
    return room


async def start(room: Room) -> None:
    await room.host.send({"type": "start"})
    await asyncio.gather(*(c.expect("question_shown", index=0, timeout=WAIT_S) for c in room.everyone))


async def answer(client: QuizClient, question: int, after_s: float = 0.0) -> bool:
    if after_s:
        await asyncio.sleep(after_s)
    reply = await client.request(
        {"type": "answer", "question": question, "choice": 1}, "answer_accepted", timeout=WAIT_S
    )
    return reply["type"] == "answer_accepted"


async def play(room: Room, questions: int, spread_s: float = 0.0) -> int:
    """The room's questions, from the first (already shown) on: every player answers, the
    question closes when all have answered, the host goes on. With ``spread_s`` 0 every
    player answers at once (as fast as it goes); otherwise the players' answers are sent
    evenly over that many seconds after the question is shown. Returns the answers
    acknowledged."""
    acknowledged = 0
    for q in range(questions):
        if q:
            await room.host.send({"type": "next"})
            await asyncio.gather(*(c.expect("question_shown", index=q, timeout=WAIT_S) for c in room.players))
        step = spread_s / len(room.players) if room.players else 0.0
        acknowledged += sum(
            await asyncio.gather(*(answer(c, q, after_s=n * step) for n, c in enumerate(room.players)))
        )
        await room.host.expect("question_closed", index=q, timeout=WAIT_S)
    return acknowledged
