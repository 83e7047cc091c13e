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
from tests.conftest import create_room, free_port, join, stop_process, wait_until_up


@pytest.mark.parametrize("event_loop", ["uvloop", "asyncio"])
@pytest.mark.parametrize(("sig", "close_code"), [(signal.SIGTERM, 1012), (signal.SIGINT, 1001)])
async def test_server_process_serves_and_stops_cleanly(tmp_path, http, sig, close_code, event_loop):
    """SIGINT: going away (1001); SIGTERM: a restart (1012), here with no grace period;
    on either event loop (--event-loop)."""
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
            "--event-loop",
            event_loop,
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
        assert f"listening on http://127.0.0.1:{port} (WebSocket at /ws), event loop {event_loop}" in log
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


def test_unknown_event_loop_is_a_clear_error():
    result = subprocess.run(
        [sys.executable, "-m", "quiz_actors", "--event-loop", "tokio", "--check-config"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode != 0
    assert "--event-loop (QUIZ_EVENT_LOOP): 'tokio' is neither uvloop nor asyncio" in result.stderr
    assert "Traceback" not in result.stderr


OPEN_FILES_LIMIT = 128  # a realistic, small open-files limit for the server process
FLOOD = 150  # half-open connections from one address: more than the server may open files


def _lower_open_files_limit() -> None:
    import resource

    resource.setrlimit(resource.RLIMIT_NOFILE, (OPEN_FILES_LIMIT, OPEN_FILES_LIMIT))


async def _half_open(port: int) -> socket.socket:
    """A connection that sends part of an HTTP request's headers and then nothing."""
    loop = asyncio.get_running_loop()
    sock = socket.socket()
    sock.setblocking(False)
    await loop.sock_connect(sock, ("127.0.0.1", port))
    try:
        await loop.sock_sendall(sock, b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
    except ConnectionError:
        pass  # refused at once: the server closed it already
    return sock


async def _closed_by_server(sock: socket.socket, within_s: float) -> bool:
    loop = asyncio.get_running_loop()
    try:
        while True:
            data = await asyncio.wait_for(loop.sock_recv(sock, 4096), within_s)
            if not data:
                return True
    except ConnectionError:
        return True
    except TimeoutError:
        return False


async def test_half_open_connections_from_one_address_cannot_starve_the_server(tmp_path):
    port = free_port()
    env = {
        **os.environ,
        "QUIZ_PORT": str(port),
        "QUIZ_STORE": f"sqlite:///{tmp_path}/events.sqlite3",
        "QUIZ_MAX_CONNECTIONS_PER_IP": "20",
        "QUIZ_HEADER_TIMEOUT_S": "2",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "quiz_actors"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        preexec_fn=_lower_open_files_limit,
    )
    # Everyone else comes from another loopback address.
    other = aiohttp.TCPConnector(local_addr=("127.0.0.2", 0), limit=0, force_close=True)
    flood: list[socket.socket] = []
    try:
        async with aiohttp.ClientSession(connector=other) as http:
            base = f"http://127.0.0.1:{port}"
            await wait_until_up(http, base, process)
            flood = [await _half_open(port) for _ in range(FLOOD)]

            # While 127.0.0.1 floods, 127.0.0.2 is served: HTTP, and a socket that joins a room.
            async with http.get(base + "/healthz", timeout=aiohttp.ClientTimeout(total=10)) as response:
                assert response.status == 200
            host = await QuizClient(http, f"ws://127.0.0.1:{port}/ws").connect()
            await host.hello()
            code, _ = await create_room(host)
            assert len(code) == 6

            # Connections are counted from accept: the flooding address has no room for one more.
            async with aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=0, force_close=True)
            ) as same_address:
                with pytest.raises(aiohttp.ClientError):
                    async with same_address.get(base + "/healthz", timeout=aiohttp.ClientTimeout(total=10)):
                        pass

            # Every half-open connection is dropped by the server, long before a keep-alive timeout.
            closed = [await _closed_by_server(sock, within_s=20) for sock in flood]
            assert all(closed), f"{closed.count(False)} half-open connections still open"

            # And the address may connect again once its connections are gone.
            async with aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=0, force_close=True)
            ) as same_address:
                async with same_address.get(base + "/healthz") as response:
                    assert response.status == 200
            await host.close()
        assert process.poll() is None, process.stderr.read().decode()
    finally:
        for sock in flood:
            sock.close()
        stop_process(process, timeout=20)


# A server on SQLite runs in the process below until /readyz answers, says which PostgreSQL
# modules it loaded, and stops itself (SIGINT): as ``quiz-server`` runs, from its own main().
_MODULES_ONCE_READY = """
import os, signal, sys, threading, time, urllib.request
from quiz_actors.__main__ import main

def report_once_ready():
    for _ in range(600):
        try:
            status = urllib.request.urlopen(sys.argv[2] + "/readyz", timeout=1).status
            break
        except OSError:
            time.sleep(0.05)
    else:
        status = None
    postgres = sorted(m for m in sys.modules if m.startswith(("psycopg", "eventsourcing.postgres")))
    print("readyz", status, "postgres modules", postgres, flush=True)
    os.kill(os.getpid(), signal.SIGINT)

threading.Thread(target=report_once_ready, daemon=True).start()
main(["--store", sys.argv[1], "--port", sys.argv[2].rsplit(":", 1)[1]])
"""


def test_a_server_on_sqlite_never_loads_psycopg(tmp_path):
    """Single-node mode on SQLite needs no PostgreSQL driver: none is imported, however the store
    and the hub are set up (cluster mode and PostgreSQL stores import it when they need it)."""
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            _MODULES_ONCE_READY,
            f"sqlite:///{tmp_path}/events.sqlite3",
            f"http://127.0.0.1:{free_port()}",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "readyz 200 postgres modules []" in result.stdout, (result.stdout, result.stderr[-2000:])
