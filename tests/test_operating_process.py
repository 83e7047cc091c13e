"""The quiz-server process as an operator meets it: JSON logs, the open-files
limit, ``--version`` and ``--check-config`` (issue: run it like a service)."""

from __future__ import annotations

import json
import resource
import subprocess
import sys

import pytest

from quiz_actors import __version__
from quiz_actors.actors.room.actor import ROOM_WORKERS
from tests.client import QuizClient
from tests.conftest import DEMO_QUIZ, POSTGRES_REQUIRED, free_port, join, wait_until_up
from tests.test_drain_process import start_server, stop

SECRET_ADMIN_KEY = "admin-key-never-logged"
SECRET_METRICS_TOKEN = "metrics-token-never-logged"
BODY_MARKER = "unlogged-7781"


async def test_json_logs_carry_context_and_never_tokens_or_bodies(tmp_path, http):
    port = free_port()
    base, ws_url = f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}/ws"
    process = start_server(
        port,
        f"sqlite:///{tmp_path}/events.sqlite3",
        "--log-format",
        "json",
        "--admin-key",
        SECRET_ADMIN_KEY,
        "--metrics-token",
        SECRET_METRICS_TOKEN,
        "--drain-grace-s",
        "0",
    )
    tokens: list[str] = []
    try:
        await wait_until_up(http, base, process)
        host = await QuizClient(http, ws_url).connect()
        await host.hello()
        tokens.append(host.token)
        created = await host.request(
            {"type": "create_room", "quiz_id": "x" * 8, "name": "H", "admin_key": SECRET_ADMIN_KEY},
            "room_created",
        )
        assert created["code"] == "quiz_not_found"  # the key was right; the quiz id is not
        code, _ = await create_room_with_key(host, DEMO_QUIZ)
        player = await QuizClient(http, ws_url).connect()
        await player.hello()
        tokens.append(player.token)
        await join(player, code, f"Name {BODY_MARKER}")
        await player.send_raw(f'{{"type":"{BODY_MARKER}"}}')
        await player.expect("error", code="unknown_type")
        await player.close()
        again = await QuizClient(http, ws_url).connect()
        await again.hello(player.token)  # the token travels again; it must not be logged
        forged = tokens[0][:-4] + "AAAA"
        intruder = await QuizClient(http, ws_url).connect()
        await intruder.send({"type": "hello", "token": forged})
        await intruder.expect("error", code="unauthorized")
        async with http.get(base + "/metrics", headers={"Authorization": "Bearer wrong-" + BODY_MARKER}):
            pass
        for path in ("/readyz", "/livez", "/healthz", "/api/quizzes"):  # as HAProxy, an orchestrator, a page
            async with http.get(base + path) as response:
                assert response.status == 200, path
        process.terminate()
        assert process.wait(timeout=30) == 0
    finally:
        log = stop(process)

    records = [json.loads(line) for line in log.splitlines() if line.strip()]
    assert records, log
    for record in records:
        assert {"time", "level", "logger", "event"} <= record.keys(), record
        assert record["time"].endswith("+00:00")
    events = [r["event"] for r in records]
    assert any(e.startswith("listening on") for e in events)
    connected = [r for r in records if r["event"].startswith("user ") and "connected from" in r["event"]]
    assert {r["user_id"] for r in connected} >= {host.user_id, player.user_id}
    assert all(r["address"] == "127.0.0.1" for r in connected)
    created_log = next(r for r in records if "created by" in r["event"])
    assert created_log["room_id"] == created_log["event"].split("(")[1].split(")")[0]
    assert any(r["event"].startswith("auth failure") and r["address"] == "127.0.0.1" for r in records)
    # The access log has the page's request, not the health checks that answered 200
    # (HAProxy's alone would be a line a second per node).
    access = [r["event"] for r in records if r["logger"] == "aiohttp.access"]
    assert any('"GET /api/quizzes HTTP/1.1" 200' in line for line in access), access
    assert not [line for line in access if "/readyz" in line or "/livez" in line or "/healthz" in line]
    # Never a token, a key or what a client sent.
    for secret in (*tokens, forged, SECRET_ADMIN_KEY, SECRET_METRICS_TOKEN, BODY_MARKER):
        assert secret not in log, secret


async def create_room_with_key(host: QuizClient, quiz_id: str) -> tuple[str, dict]:
    created = await host.request(
        {"type": "create_room", "quiz_id": quiz_id, "name": "Host", "admin_key": SECRET_ADMIN_KEY},
        "room_created",
    )
    assert created["type"] == "room_created", created
    return created["code"], await host.expect("state")


def soft_limit_of(pid: int) -> tuple[str, str]:
    with open(f"/proc/{pid}/limits") as limits:
        line = next(line for line in limits if line.startswith("Max open files"))
    soft, hard = line.split()[3:5]
    return soft, hard


def limited_to(soft: int, hard: int | None = None):
    """Run in the child before it starts: the limits a systemd or Docker default would give."""

    def apply() -> None:
        resource.setrlimit(
            resource.RLIMIT_NOFILE, (soft, hard or resource.getrlimit(resource.RLIMIT_NOFILE)[1])
        )

    return apply


async def test_a_low_open_files_soft_limit_is_raised_at_start(tmp_path, http):
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    assert hard > 256, "this test needs a hard limit above 256"
    port = free_port()
    process = start_server(
        port,
        f"sqlite:///{tmp_path}/e.sqlite3",
        "--max-connections",
        "100",
        "--drain-grace-s",
        "0",
        preexec_fn=limited_to(256),
    )
    try:
        await wait_until_up(http, f"http://127.0.0.1:{port}", process)
        shown = "unlimited" if hard == resource.RLIM_INFINITY else str(hard)
        assert soft_limit_of(process.pid) == (shown, shown)
        process.terminate()
        process.wait(timeout=30)
    finally:
        log = stop(process)
    assert f"soft limit raised from 256 to {hard:,}" in log
    assert "cannot be reached" not in log


async def test_max_connections_beyond_the_hard_limit_is_said_at_start(tmp_path, http):
    port = free_port()
    process = start_server(
        port,
        f"sqlite:///{tmp_path}/e.sqlite3",
        "--max-connections",
        "5000",
        "--drain-grace-s",
        "0",
        preexec_fn=limited_to(256, 1024),
    )
    try:
        await wait_until_up(http, f"http://127.0.0.1:{port}", process)
        assert soft_limit_of(process.pid) == ("1024", "1024")
        process.terminate()
        process.wait(timeout=30)
    finally:
        log = stop(process)
    assert "soft limit raised from 256 to 1,024 (hard limit 1,024)" in log
    assert "--max-connections 5,000 cannot be reached" in log
    assert "about 960 sockets" in log


def run_server(*options: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "quiz_actors", *options], capture_output=True, text=True, timeout=60
    )


def test_version():
    result = run_server("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"quiz-server {__version__}"


def test_check_config_says_the_store_answers(tmp_path):
    result = run_server("--check-config", "--store", f"sqlite:///{tmp_path}/events.sqlite3", "--port", "0")
    assert result.returncode == 0, result.stderr
    assert "settings: fine" in result.stdout
    assert "store: answers" in result.stdout


def test_check_config_names_every_bad_setting(tmp_path):
    result = run_server(
        "--check-config",
        "--port",
        "70000",
        "--heartbeat-s",
        "0",
        "--log-format",
        "xml",
        "--store",
        "mysql://x",
    )
    assert result.returncode == 1
    assert "--port (QUIZ_PORT) must be a port number up to 65535, not 70000" in result.stderr
    assert "--heartbeat-s (QUIZ_HEARTBEAT_S) must be more than 0, not 0.0" in result.stderr
    assert "--log-format (QUIZ_LOG_FORMAT): 'xml' is neither text nor json" in result.stderr
    assert "Unsupported store URL" in result.stderr
    assert "Traceback" not in result.stderr


def test_check_config_says_when_the_store_does_not_answer(tmp_path):
    (tmp_path / "a-folder.sqlite3").mkdir()
    result = run_server("--check-config", "--store", f"sqlite:///{tmp_path}/a-folder.sqlite3")
    assert result.returncode == 1
    assert "quiz-server: the store does not answer: unable to open database file" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.postgres
def test_a_postgresql_store_that_refuses_says_why_in_the_databases_words(postgres_problem):
    """Its pool only says it "couldn't get a connection after 2.00 sec": an operator who
    gave a role that does not exist must read that, at --check-config and at start."""
    if postgres_problem:
        (pytest.fail if POSTGRES_REQUIRED else pytest.skip)(f"no PostgreSQL here: {postgres_problem}")
    nobody = "postgresql://no_such_role_here@127.0.0.1:5432/test"
    checked = run_server("--check-config", "--store", nobody)
    started = run_server("--store", nobody, "--port", "0")
    for result in (checked, started):
        assert result.returncode == 1
        assert 'role "no_such_role_here" does not exist' in result.stderr, result.stderr
        assert "Traceback" not in result.stderr
    assert "quiz-server: the store does not answer: connection failed" in checked.stderr
    assert f"quiz-server: cannot open the store {nobody}: connection failed" in started.stderr


def test_check_config_names_the_cluster_node_and_refuses_a_nameless_one(tmp_path):
    nameless = run_server(
        "--check-config", "--cluster", "--store", "postgresql://postgres@127.0.0.1:5432/test"
    )
    assert nameless.returncode == 1
    assert "--cluster (QUIZ_CLUSTER) needs --node-id (QUIZ_NODE_ID)" in nameless.stderr


def test_the_server_refuses_to_start_on_bad_settings(tmp_path):
    result = run_server("--store", f"sqlite:///{tmp_path}/e.sqlite3", "--metrics-allow", "10.0.0.0/8,nowhere")
    assert result.returncode == 1
    assert "--metrics-allow (QUIZ_METRICS_ALLOW): 'nowhere' is not an address range" in result.stderr


async def test_each_rooms_log_lines_carry_that_rooms_id(tmp_path, http):
    """Rooms take turns on a few shared threads: a room's log lines must name that
    room, not whichever room last started on the thread that handles them."""
    rooms = ROOM_WORKERS + 2  # more rooms than threads: some thread starts two of them
    port = free_port()
    base, ws_url = f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}/ws"
    # A room locks itself at its first join and logs that (a line from the room actor).
    process = start_server(
        port, f"sqlite:///{tmp_path}/events.sqlite3", "--log-format", "json", "--room-join-burst", "1"
    )
    room_ids: dict[str, str] = {}  # code -> room id
    try:
        await wait_until_up(http, base, process)
        host = await QuizClient(http, ws_url).connect()
        await host.hello()
        for _ in range(rooms):
            created = await host.request(
                {"type": "create_room", "quiz_id": DEMO_QUIZ, "name": "Host"}, "room_created"
            )
            room_ids[created["code"]] = created["room_id"]
        player = await QuizClient(http, ws_url).connect()
        await player.hello()
        for code in room_ids:
            await join(player, code, "Player")
        process.terminate()
        assert process.wait(timeout=30) == 0
    finally:
        log = stop(process)

    records = [json.loads(line) for line in log.splitlines() if line.strip()]
    locked = {r["event"].split()[1]: r for r in records if "locked itself" in r["event"]}
    assert locked.keys() == room_ids.keys(), log
    for code, record in locked.items():
        assert record.get("room_id") == room_ids[code], record
