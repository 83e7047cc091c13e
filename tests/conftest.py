"""Fixtures: a real server on loopback, on SQLite and on PostgreSQL; and the
helpers the tests share (clients, rooms, a quiz, a free port)."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import uuid

import aiohttp
import pykka
import pytest
import uvloop
from aiohttp import web
from hypothesis import settings as hypothesis_settings
from prometheus_client.parser import text_string_to_metric_families

from quiz_actors.clock import ManualClock, SystemClock
from quiz_actors.domain.room import Room
from quiz_actors.quizzes import sample_quiz_id
from quiz_actors.server.app import create_app
from quiz_actors.server.listen import GuardedSite
from quiz_actors.settings import Settings
from tests.client import QuizClient

# The browser tests' fixtures (browser, pages), for every module that has a live_server.
pytest_plugins = ["tests.browser", "tests.cluster_nodes"]

# Hypothesis's per-example deadline is a timed assertion: on a busy 2-core machine a
# correct example can take 300 ms. Properties here are about results, never speed.
hypothesis_settings.register_profile("quiz-actors", deadline=None)
hypothesis_settings.load_profile("quiz-actors")

POSTGRES_URL = os.environ.get("QUIZ_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
POSTGRES_REQUIRED = os.environ.get("QUIZ_REQUIRE_POSTGRES") == "1"
DEMO_QUIZ = sample_quiz_id("quick-demo.json")

# A quiz uploaded by the game tests: three questions, each with its own points and time limit.
THREE_QUESTIONS = {
    "title": "Three questions",
    "questions": [
        {"text": "One?", "choices": ["a", "b", "c", "d"], "correct": [1], "time_limit_s": 20},
        {"text": "Two?", "choices": ["a", "b"], "correct": [0], "time_limit_s": 20, "points": "double"},
        {"text": "Three?", "choices": ["a", "b", "c"], "correct": [2], "time_limit_s": 10, "points": "none"},
    ],
}


def pytest_asyncio_loop_factories(config: pytest.Config, item: pytest.Item) -> dict[str, object]:
    """Every async test, and every server a test starts in its process, runs on uvloop,
    the server's default event loop (--event-loop). tests/test_server_process.py runs the
    server process on the standard library's loop too."""
    return {"uvloop": uvloop.new_event_loop}


def _postgres_available() -> str | None:
    """None if PostgreSQL answers, else why not."""
    try:
        import psycopg

        with psycopg.connect(POSTGRES_URL, connect_timeout=3):
            return None
    except Exception as e:  # noqa: BLE001
        return str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__


@pytest.fixture(scope="session")
def postgres_problem() -> str | None:
    return _postgres_available()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request, tmp_path, postgres_problem):
    """A fresh, empty store of each kind."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/events.sqlite3"
        return
    if postgres_problem is not None:
        if POSTGRES_REQUIRED:
            pytest.fail(f"PostgreSQL is required here (QUIZ_REQUIRE_POSTGRES=1) but: {postgres_problem}")
        pytest.skip(f"no PostgreSQL at {POSTGRES_URL}: {postgres_problem}")
    import psycopg

    schema = "t_" + uuid.uuid4().hex[:12]
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    yield f"{POSTGRES_URL}?schema={schema}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA {schema} CASCADE")


class RunningServer:
    """The real application on a free loopback port; it can be stopped and started again."""

    def __init__(self, settings: Settings, clock):
        self.settings = settings
        self.clock = clock
        self.runner: web.AppRunner | None = None
        self.port: int | None = None
        self.app: web.Application | None = None

    async def start(self) -> RunningServer:
        self.app = create_app(self.settings, self.clock)
        self.runner = web.AppRunner(self.app, handle_signals=False)
        await self.runner.setup()
        site = GuardedSite(self.runner, "127.0.0.1", self.port or 0)
        await site.start()
        self.port = self.runner.addresses[0][1]
        return self

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None

    async def restart(self) -> None:
        await self.stop()
        if isinstance(self.clock, SystemClock):
            # Stopping the server stopped its clock's thread; a restarted process has a new one.
            self.clock = SystemClock()
        await self.start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"


@pytest.fixture
def clock():
    return ManualClock()


@pytest.fixture
def settings(store_url):
    # Generous rate limits: tests send faster than people do. The limits have tests of their own.
    return Settings(
        store=store_url,
        hello_timeout_s=10,
        progress_interval_s=0.05,
        player_messages_per_s=1000,
        player_burst=1000,
        # Answers open as a question is shown, unless a test is about the get-ready phase.
        get_ready_s=0,
    )


@pytest.fixture
async def server(settings, clock):
    running = await RunningServer(settings, clock).start()
    yield running
    await running.stop()


@pytest.fixture
async def http():
    # No cap on open connections: some tests hold hundreds of sockets at once.
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        yield session


@pytest.fixture
def connect(server, http):
    """Open a client on the running server; ``hello`` already done unless told not to."""

    async def connect_client(hello: bool = True, token: str | None = None) -> QuizClient:
        return await open_client(http, server, token, hello=hello)

    return connect_client


async def open_client(http, server, token: str | None = None, *, hello: bool = True) -> QuizClient:
    client = await QuizClient(http, server.ws_url).connect()
    if hello:
        await client.hello(token)
    return client


async def upload_quiz(http, server, quiz: dict = THREE_QUESTIONS) -> str:
    async with http.post(server.base_url + "/api/quizzes", json=quiz) as response:
        assert response.status == 201, await response.text()
        return (await response.json())["quiz_id"]


def one_question_room(code: str) -> Room:
    """A room of a one-question quiz, not stored yet: for tests of the store itself."""
    quiz = {"title": "T", "questions": [{"text": "Q", "choices": ["a", "b"], "correct": [0]}]}
    return Room.open(code=code, quiz_id=str(uuid.uuid4()), quiz=quiz, host_id="h", host_name="Host", at=1)


async def answer(client: QuizClient, question: int, choice: int) -> dict:
    return await client.request({"type": "answer", "question": question, "choice": choice}, "answer_accepted")


def server_process(store_url: str, port: int, *options: str) -> subprocess.Popen[bytes]:
    """``python -m quiz_actors`` on ``port`` with ``store_url`` (and ``options``), no drain
    grace: a real server process, its output discarded (``stop_process`` ends it)."""
    return subprocess.Popen(
        [sys.executable, "-m", "quiz_actors", "--store", store_url, "--drain-grace-s", "0", *options],
        env={**os.environ, "QUIZ_PORT": str(port)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def stop_process(process: subprocess.Popen[bytes], timeout: float = 30) -> None:
    """SIGTERM, and SIGKILL if it has not exited within ``timeout`` seconds."""
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


async def wait_until_up(http, base_url: str, process) -> None:
    for _ in range(200):
        if process.poll() is not None:
            output = process.stderr.read().decode() if process.stderr else "(its output was discarded)"
            raise AssertionError(f"server exited with status {process.returncode}: {output}")
        try:
            async with http.get(base_url + "/healthz") as response:
                if response.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.05)
    raise AssertionError("server did not come up")


async def metric(http, base_url: str, name: str) -> float:
    """The value of the sample ``name`` (no labels) on the server's ``/metrics``."""
    async with http.get(base_url + "/metrics") as response:
        assert response.status == 200, await response.text()
        text = await response.text()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and not sample.labels:
                return sample.value
    raise AssertionError(f"no {name} on /metrics")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def create_room(client: QuizClient, quiz_id: str = DEMO_QUIZ, name: str = "Host") -> tuple[str, dict]:
    created = await client.request({"type": "create_room", "quiz_id": quiz_id, "name": name}, "room_created")
    assert created["type"] == "room_created", created
    state = await client.expect("state")
    return created["code"], state


async def join(client: QuizClient, code: str, name: str) -> dict:
    reply = await client.request({"type": "join", "code": code, "name": name}, "state")
    assert reply["type"] == "state", reply
    return reply


@pytest.fixture
def started():
    """``started(ActorClass, *args)`` starts a pykka actor, stopped after the test."""
    refs: list[pykka.ActorRef] = []

    def start(actor_class: type, *args, **kwargs) -> pykka.ActorRef:
        ref = actor_class.start(*args, **kwargs)
        refs.append(ref)
        return ref

    yield start
    for ref in refs:
        if ref.is_alive():
            ref.stop()
