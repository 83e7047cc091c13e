"""Draining the quiz-server process on SIGTERM for a rolling restart (issue: run it like a service).

The real process, a real signal, 50 players in the middle of a question.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from typing import Any

import pytest

from tests.client import QuizClient
from tests.conftest import create_room, free_port, join, wait_until_up

PLAYERS = 50
ANSWER_BEFORE, ANSWER_DURING = 20, 20  # the last 10 answer on the restarted server
QUIZ = {
    "title": "Drained",
    "questions": [
        {"text": "Long one?", "choices": ["a", "b", "c"], "correct": [1], "time_limit_s": 240},
        {"text": "Next?", "choices": ["a", "b"], "correct": [0], "time_limit_s": 240},
    ],
}


def start_server(port: int, store: str, *options: str, **popen: Any) -> subprocess.Popen:
    """The server process; ``popen``: more of ``subprocess.Popen``'s options (``preexec_fn``)."""
    return subprocess.Popen(
        [sys.executable, "-m", "quiz_actors", "--port", str(port), "--store", store, *options],
        # Answers open as each question is shown: this test is about the drain, not the get-ready phase.
        env={
            **os.environ,
            "QUIZ_PLAYER_BURST": "100",
            "QUIZ_PLAYER_MESSAGES_PER_S": "100",
            "QUIZ_GET_READY_S": "0",
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        **popen,
    )


def stop(process: subprocess.Popen) -> str:
    if process.poll() is None:
        process.kill()
    process.wait()
    return process.stderr.read().decode()


async def status(http, url: str) -> int:
    async with http.get(url) as response:
        return response.status


async def answer(client: QuizClient, choice: int) -> dict:
    return await client.request({"type": "answer", "question": 0, "choice": choice}, "answer_accepted")


async def test_sigterm_drains_restarts_sockets_and_the_question_goes_on(tmp_path, http):
    port = free_port()
    base, ws_url = f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}/ws"
    store = f"sqlite:///{tmp_path}/events.sqlite3"
    process = start_server(port, store, "--drain-grace-s", "5")
    try:
        await wait_until_up(http, base, process)
        async with http.post(base + "/api/quizzes", json=QUIZ) as response:
            quiz_id = (await response.json())["quiz_id"]
        host = await QuizClient(http, ws_url).connect()
        await host.hello()
        code, _ = await create_room(host, quiz_id)
        players = [await QuizClient(http, ws_url).connect() for _ in range(PLAYERS)]
        await asyncio.gather(*(p.hello() for p in players))
        await asyncio.gather(*(join(p, code, f"P{n}") for n, p in enumerate(players)))
        await host.send({"type": "start"})
        await asyncio.gather(*(c.expect("question_shown", index=0) for c in (host, *players)))
        first = players[:ANSWER_BEFORE]
        accepted = await asyncio.gather(*(answer(p, 1) for p in first))
        assert {a["type"] for a in accepted} == {"answer_accepted"}
        assert await status(http, base + "/readyz") == 200

        process.send_signal(signal.SIGTERM)
        # Not ready from the moment the signal is handled; alive all along.
        for _ in range(200):
            if await status(http, base + "/readyz") == 503:
                break
        else:
            raise AssertionError("/readyz never said 503 after SIGTERM")
        assert await status(http, base + "/livez") == 200
        # Still serving the game during the grace period: these answers are decided and stored.
        during = players[ANSWER_BEFORE : ANSWER_BEFORE + ANSWER_DURING]
        accepted = await asyncio.gather(*(answer(p, 2) for p in during))
        assert {a["type"] for a in accepted} == {"answer_accepted"}

        # Then every socket is told to reconnect now.
        codes = await asyncio.gather(*(c.expect_closed(timeout=30) for c in (host, *players)))
        assert set(codes) == {1012}
        assert process.wait(timeout=30) == 0
        log = stop(process)
        assert "SIGTERM: draining" in log
        assert "Traceback" not in log

        # A new server on the same store: everyone comes back to the same question.
        process = start_server(port, store)
        await wait_until_up(http, base, process)
        for client in (host, *players):
            await client.connect()
            await client.hello()
        states = await asyncio.gather(*(join(p, code, f"P{n}") for n, p in enumerate(players)))
        for n, state in enumerate(states):
            assert state["room"]["phase"] == "question", state["room"]["phase"]
            assert state["room"]["question"]["index"] == 0
            assert state["you"]["answered"] is (n < ANSWER_BEFORE + ANSWER_DURING), n
        assert (await join(host, code, "Host"))["room"]["phase"] == "question"
        last = players[ANSWER_BEFORE + ANSWER_DURING :]
        await asyncio.gather(*(answer(p, 0) for p in last))
        closed = await players[0].expect("question_closed", index=0)
        assert closed["reason"] == "all_answered"
        assert closed["distribution"] == [len(last), ANSWER_BEFORE, ANSWER_DURING]
    finally:
        stop(process)


@pytest.mark.parametrize("second", [signal.SIGTERM, signal.SIGINT])
async def test_a_second_signal_stops_at_once(tmp_path, http, second):
    port = free_port()
    base, ws_url = f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}/ws"
    # A grace far longer than the test may wait: only the second signal can end it.
    process = start_server(port, f"sqlite:///{tmp_path}/events.sqlite3", "--drain-grace-s", "3600")
    try:
        await wait_until_up(http, base, process)
        player = await QuizClient(http, ws_url).connect()
        await player.hello()
        process.send_signal(signal.SIGTERM)
        for _ in range(200):
            if await status(http, base + "/readyz") == 503:
                break
        else:
            raise AssertionError("/readyz never said 503 after SIGTERM")
        assert (await player.request({"type": "ping", "t": 1}, "pong"))["t"] == 1  # still serving
        process.send_signal(second)
        assert await player.expect_closed(timeout=30) == 1012
        assert process.wait(timeout=30) == 0
        assert "during the drain: stopping now" in stop(process)
    finally:
        stop(process)
