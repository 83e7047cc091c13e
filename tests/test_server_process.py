"""The quiz-server process: starts on a store URL, logs, and stops cleanly on a signal."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys

import aiohttp
import pytest

from tests.client import QuizClient
from tests.conftest import create_room, join


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def wait_until_up(http, base_url: str, process) -> None:
    for _ in range(200):
        if process.poll() is not None:
            raise AssertionError(f"server exited: {process.stderr.read().decode()}")
        try:
            async with http.get(base_url + "/healthz") as response:
                if response.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.05)
    raise AssertionError("server did not come up")


@pytest.mark.parametrize(("sig", "close_code"), [(signal.SIGTERM, 1012), (signal.SIGINT, 1001)])
async def test_server_process_serves_and_stops_cleanly(tmp_path, http, sig, close_code):
    """SIGINT: going away (1001); SIGTERM: a restart (1012), here with no grace period."""
    port = free_port()
    env = {**os.environ, "QUIZ_PORT": str(port)}  # the port from the environment, the store from an option
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "quiz_actors",
            "--store",
            f"sqlite:///{tmp_path}/events.sqlite3",
            "--drain-grace-s",
            "0",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        await wait_until_up(http, base, process)
        host = await QuizClient(http, f"ws://127.0.0.1:{port}/ws").connect()
        await host.hello()
        code, _ = await create_room(host)
        ann = await QuizClient(http, f"ws://127.0.0.1:{port}/ws").connect()
        await ann.hello()
        await join(ann, code, "Ann")

        process.send_signal(sig)
        assert await ann.expect_closed() == close_code
        assert await host.expect_closed() == close_code
        assert process.wait(timeout=20) == 0
        log = process.stderr.read().decode()
        assert f"listening on http://127.0.0.1:{port}" in log
        assert f"SQLite at {tmp_path}/events.sqlite3" in log
        assert "stopped" in log
        assert "Traceback" not in log
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_bad_store_url_is_a_clear_error(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "quiz_actors", "--store", "mysql://nope"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode != 0
    assert "quiz-server: these settings cannot work" in result.stderr
    assert "--store (QUIZ_STORE): Unsupported store URL" in result.stderr
    assert "Traceback" not in result.stderr
