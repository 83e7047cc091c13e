"""Three real quiz-server processes in cluster mode on one PostgreSQL schema, and HAProxy
in front of them built from contrib/haproxy.cfg: loopback only, free ports, bounded waits."""

from __future__ import annotations

import asyncio
import compileall
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urljoin

import aiohttp
import psycopg
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.client import QuizClient
from tests.conftest import POSTGRES_REQUIRED, POSTGRES_URL, free_port

ROOT = Path(__file__).resolve().parent.parent
NODES = ("node1", "node2", "node3")
LEASE_TTL_S, LEASE_RENEW_S = 2.0, 0.5  # short, so that failover tests take seconds


def compile_sources() -> None:
    """Byte-compile the server's own modules, as installing it does (pip compiles them).

    A checkout run with PYTHONDONTWRITEBYTECODE=1 (this machine's environment) would
    otherwise compile its ~100 modules again in every node process it starts: ~0.1 s of
    CPU a node, a seventh of a start (docs/cluster.md, "Starting"). Up to date: a stat each.
    """
    for package in ("quiz_actors", "eventstore"):
        compileall.compile_dir(ROOT / package, quiet=1)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """A cluster test that fails shows the end of each node's log beside its error: a CI
    run on another machine leaves nothing else behind to read."""
    report = yield
    if report.when == "call" and report.failed:
        for value in getattr(item, "funcargs", {}).values():
            for cluster in value if isinstance(value, tuple) else (value,):
                if isinstance(cluster, Cluster):
                    for name in cluster.names:
                        report.sections.append((f"node {name}'s log, its end", _log_tail(cluster, name)))
    return report


def _log_tail(cluster: Cluster, name: str, chars: int = 6000) -> str:
    """The end of a node's log without HAProxy's health checks (a line a second per node)."""
    path = cluster.log_dir / f"{name}.log"
    if not path.exists():
        return "(no log)"
    lines = path.read_text(errors="replace").splitlines()
    return "\n".join(line for line in lines if "GET /readyz" not in line)[-chars:]


@pytest.fixture
def schema(postgres_problem):
    """A PostgreSQL schema of the test's own: (the store URL naming it, its name). Every test
    module has it (tests/conftest.py names this module in ``pytest_plugins``)."""
    yield from fresh_schema(postgres_problem)


def fresh_schema(postgres_problem: str | None):
    """A generator for a fixture: a schema of the test's own, dropped afterwards."""
    if postgres_problem is not None:
        if POSTGRES_REQUIRED:
            pytest.fail(f"PostgreSQL is required here (QUIZ_REQUIRE_POSTGRES=1) but: {postgres_problem}")
        pytest.skip(f"no PostgreSQL at {POSTGRES_URL}: {postgres_problem}")
    import psycopg

    schema = "c_" + uuid.uuid4().hex[:12]
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    yield f"{POSTGRES_URL}?schema={schema}", schema
    # The nodes were killed, but a killed node's backend may still hold a lock for a
    # moment (PostgreSQL notices the closed socket at its next read): the drop can
    # deadlock with it, and then succeeds once that backend is gone.
    for attempt in range(1, 6):
        try:
            with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
                conn.execute(f"DROP SCHEMA {schema} CASCADE")
            return
        except psycopg.errors.DeadlockDetected:
            if attempt == 5:
                raise
            time.sleep(0.5)


class Cluster:
    def __init__(
        self,
        store: str,
        *options: str,
        names: tuple[str, ...] = NODES,
        log_dir: Path | None = None,
        stores: dict[str, str] | None = None,
    ):
        self.stores = stores or {}  # a node's own URL of the same store (through a forwarder, say)
        self.log_dir = log_dir or Path(tempfile.mkdtemp(prefix="quiz-cluster-"))
        self.store = store
        self.options = options
        self.names = names
        self.ports = {name: free_port() for name in names}
        self.processes: dict[str, subprocess.Popen] = {}
        self.started_at: dict[str, float] = {}  # time.monotonic() when each process was started
        self.ready_at: dict[str, float] = {}  # ... and when its /readyz first answered 200

    def start(self, name: str) -> None:
        self.started_at[name] = time.monotonic()
        self.ready_at.pop(name, None)
        self.processes[name] = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "quiz_actors",
                "--cluster",
                "--node-id",
                name,
                "--port",
                str(self.ports[name]),
                "--store",
                self.stores.get(name, self.store),
                "--lease-ttl-s",
                str(LEASE_TTL_S),
                "--lease-renew-s",
                str(LEASE_RENEW_S),
                "--trusted-proxies",
                "127.0.0.1/32",
                *self.options,
            ],
            env={
                **os.environ,
                "QUIZ_PLAYER_BURST": "100",
                "QUIZ_PLAYER_MESSAGES_PER_S": "100",
                # The benchmark's host steps at machine speed (two `next` per broadcast, a
                # few ms apart): at the shipped 20 a second its `next` got `rate_limited`.
                "QUIZ_HOST_BURST": "1000",
                "QUIZ_HOST_MESSAGES_PER_S": "1000",
                "QUIZ_ROOMS_PER_IP_PER_MINUTE": "1000",
                # The benchmark fills a room of up to thousands at once (--broadcast-players):
                # at the shipped 500 new members in 10 s the room locked itself (join flood).
                "QUIZ_ROOM_JOIN_BURST": "100000",
                "QUIZ_JOINS_PER_IP_PER_MINUTE": "100000",  # every client here is 127.0.0.1
                "QUIZ_MAX_CONNECTIONS_PER_IP": "100000",  # the benchmark opens hundreds of sockets
                "QUIZ_GET_READY_S": "0",  # these clients answer the moment a question is shown
            },
            stdout=(self.log_dir / f"{name}.log").open("a"),
            stderr=subprocess.STDOUT,
        )

    def start_all(self) -> None:
        compile_sources()
        for name in self.names:
            self.start(name)

    def base(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}"

    def ws(self, name: str) -> str:
        return f"ws://127.0.0.1:{self.ports[name]}/ws"

    async def wait_ready(self, http: aiohttp.ClientSession, name: str, timeout: float = 45.0) -> None:
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        while loop.time() < end:
            process = self.processes[name]
            if process.poll() is not None:
                raise AssertionError(f"{name} exited: {self.stderr(name)}")
            try:
                async with http.get(self.base(name) + "/readyz") as response:
                    if response.status == 200:
                        self.ready_at.setdefault(name, time.monotonic())
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.05)
        raise AssertionError(f"{name} not ready within {timeout} s")

    async def metrics(self, http: aiohttp.ClientSession, name: str) -> dict[str, float]:
        """The node's /metrics samples, each under its name and labels as the text writes
        them: ``quiz_cluster_leases_lost_total{reason="taken"}``."""
        async with http.get(self.base(name) + "/metrics") as response:
            assert response.status == 200, await response.text()
            text = await response.text()
        samples = {}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
                samples[sample.name + (f"{{{labels}}}" if labels else "")] = sample.value
        return samples

    def signal(self, name: str, sig: signal.Signals) -> None:
        self.processes[name].send_signal(sig)

    def stderr(self, name: str) -> str:
        """The node's log so far (its last 4,000 characters)."""
        return (self.log_dir / f"{name}.log").read_text(errors="replace")[-4000:]

    def stop_all(self) -> None:
        for _name, process in self.processes.items():
            if process.poll() is None:
                process.send_signal(signal.SIGCONT)  # a test may have left it stopped
                process.kill()
            process.wait(timeout=10)

    @contextlib.asynccontextmanager
    async def running(self, http: aiohttp.ClientSession) -> AsyncIterator[Cluster]:
        """Every node started and ready for the block, every node killed after it."""
        self.start_all()
        try:
            await asyncio.gather(*(self.wait_ready(http, name) for name in self.names))
            yield self
        finally:
            self.stop_all()


class Proxy:
    """HAProxy from contrib/haproxy.cfg, on a free port, in front of a Cluster's nodes."""

    def __init__(
        self, cluster: Cluster, tmp_path: Path, only: tuple[str, ...] = NODES, source: Path | None = None
    ):
        """``only``: the servers of contrib/haproxy.cfg to keep (a smaller cluster); ``source``:
        another configuration written like contrib/haproxy.cfg (a variant a benchmark compares)."""
        self.port = free_port()
        text = (source or ROOT / "contrib" / "haproxy.cfg").read_text()
        for name in NODES:
            if name not in only:  # its server and its use-server lines
                text = "".join(line for line in text.splitlines(True) if f" {name} " not in line)
        text = text.replace("bind :8080\n", f"bind 127.0.0.1:{self.port}\n")
        for number, name in enumerate(only, start=1):
            text = text.replace(
                f"server {name} 127.0.0.1:808{number}", f"server {name} 127.0.0.1:{cluster.ports[name]}"
            )
        # The 503 page from the repository, not from where an installation puts it.
        text = text.replace("/etc/haproxy/errors/quiz-503.http", str(ROOT / "deploy" / "quiz-503.http"))
        # Checks as in production, only faster, so a test's failover takes seconds.
        text = text.replace("inter 1s fastinter 500ms", "inter 300ms fastinter 200ms")
        self.config = tmp_path / "haproxy.cfg"
        self.config.write_text(text)
        # Its log (requests, failed health checks, servers marked down) and its warnings:
        # a file, not a pipe nobody reads, which would stall HAProxy once full.
        self.log = tmp_path / "haproxy.log"
        self.process: subprocess.Popen | None = None

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    def start(self) -> None:
        haproxy = shutil.which("haproxy")
        if haproxy is None:  # the cluster tests need a real HAProxy (.ci/run installs it)
            if os.environ.get("QUIZ_REQUIRE_DEPLOY_TOOLS") == "1":
                pytest.fail("HAProxy is required here (QUIZ_REQUIRE_DEPLOY_TOOLS=1) but is not installed")
            pytest.skip("HAProxy is not installed (.ci/run installs it)")
        checked = subprocess.run(
            [haproxy, "-c", "-q", "-f", str(self.config)], capture_output=True, text=True
        )
        assert checked.returncode == 0, checked.stderr
        with self.log.open("ab") as log:
            self.process = subprocess.Popen([haproxy, "-db", "-f", str(self.config)], stdout=log, stderr=log)

    def health_events(self) -> dict[str, int]:
        """How many health checks failed and how many times a server was marked down so far
        (contrib/haproxy.cfg logs both: ``option log-health-checks``)."""
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        # Each is logged and also warned about on stderr ("[WARNING] (pid) : ..."): count the warnings.
        lines = [line for line in text.splitlines() if line.startswith("[WARNING]")]
        return {
            "checks_failed": sum("Health check for server" in line and " failed" in line for line in lines),
            "marked_down": sum(" is DOWN" in line for line in lines),
        }

    async def wait_ready(self, http: aiohttp.ClientSession) -> None:
        for _ in range(200):
            try:
                async with http.get(f"http://127.0.0.1:{self.port}/readyz") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.05)
        raise AssertionError("HAProxy never served /readyz")

    async def wait_routing(self, http: aiohttp.ClientSession, name: str, timeout: float = 30.0) -> None:
        """Until HAProxy sends a socket hinted to ``name`` there (it marked the node up)."""
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        while loop.time() < end:
            try:
                async with http.ws_connect(f"{self.ws}?node={name}") as ws:
                    if ws._response.headers.get("X-Quiz-Node") == name:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
        raise AssertionError(f"HAProxy did not route to {name} within {timeout} s")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)


async def revive(http: aiohttp.ClientSession, nodes: Cluster, proxy: Proxy) -> list[str]:
    """Start again every node that has exited (killed, drained), wait until it is ready
    and HAProxy routes to it again. Returns the names of the nodes started."""
    dead = [name for name in nodes.names if nodes.processes[name].poll() is not None]
    for name in dead:
        nodes.start(name)
    await asyncio.gather(*(nodes.wait_ready(http, name) for name in dead))
    await asyncio.gather(*(proxy.wait_routing(http, name) for name in nodes.names))
    return dead


async def connect(http: aiohttp.ClientSession, url: str, token: str | None = None) -> QuizClient:
    client = await QuizClient(http, url).connect()
    await client.hello(token)
    return client


class JoinRefused(Exception):
    """The node answered the join with an error (``busy``, say)."""


async def enter(
    http: aiohttp.ClientSession,
    entry: str,
    code: str,
    name: str,
    token: str | None = None,
    hint: str | None = None,
    max_redirects: int = 3,
    nodes: Cluster | None = None,
) -> tuple[QuizClient, dict, int, str]:
    """Join room ``code`` through ``entry`` (HAProxy's /ws URL) as the web client does:
    ``?room=CODE`` (and the node hint it has), following redirects. Without HAProxy
    (``entry`` a node's own URL), pass ``nodes``: a redirect then goes to the hinted
    node's own URL, as HAProxy would route it.
    Returns the client, its state, how many redirects it followed and the node it reached."""
    url = f"{entry}?room={code}" + (f"&node={hint}" if hint else "")
    for redirects in range(max_redirects + 1):
        client = QuizClient(http, url)
        await client.connect()
        node = client.ws._response.headers.get("X-Quiz-Node", "?")
        await client.hello(token)
        await client.send({"type": "join", "code": code, "name": name})
        reply = await client.expect_one_of("state", "redirect", "error")
        if reply["type"] == "state":
            return client, reply, redirects, node
        if reply["type"] == "error":
            await client.close()
            raise JoinRefused(reply)
        closed = await client.expect_closed()
        assert closed == 4009, closed  # protocol.CLOSE_REDIRECT
        url = urljoin(entry if nodes is None else nodes.ws(reply["node"]), reply["url"])
    raise AssertionError(f"more than {max_redirects} redirects")


def answers_stored(schema: str, room_id: str) -> int:
    """How many answers the store holds for a room (in the test's schema)."""
    with psycopg.connect(POSTGRES_URL) as conn:
        return conn.execute(
            f"SELECT count(*) FROM {schema}.quiz_events WHERE originator_id = %s AND topic = %s",
            (uuid.UUID(room_id), "quiz_actors.domain.room:Room.AnswerSubmitted"),
        ).fetchone()[0]


class PostgresForwarder:
    """A TCP forwarder to PostgreSQL on the test's event loop: a node whose store URL
    points here is cut off from the database by ``cut()`` (open connections closed,
    new ones refused), while the other nodes reach it directly. Setting ``delay_s``
    holds every chunk that long in each direction (a database far away, or a loaded
    machine): each round trip then takes twice that."""

    def __init__(self, target_port: int = 5432, address: str = "127.0.0.1"):
        self.target_port = target_port
        self.address = address  # a loopback address of its own, to silence it (SilentAddress)
        self.port = free_port()
        self.delay_s = 0.0
        self.server: asyncio.AbstractServer | None = None
        self.writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> PostgresForwarder:
        self.server = await asyncio.start_server(self._serve, self.address, self.port)
        return self

    def url(self, store: str) -> str:
        """``store`` (a PostgreSQL URL on the target port of 127.0.0.1) through this forwarder."""
        through = store.replace(f"127.0.0.1:{self.target_port}", f"{self.address}:{self.port}")
        assert through != store
        return through

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.close()
            return
        self.writers |= {writer, up_writer}

        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            try:
                while data := await source.read(65536):
                    if self.delay_s:
                        await asyncio.sleep(self.delay_s)
                    sink.write(data)
                    await sink.drain()
            except (OSError, asyncio.CancelledError):
                pass
            finally:
                sink.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    async def cut(self) -> None:
        if self.server is not None:
            self.server.close()
            self.server = None
        for writer in list(self.writers):
            writer.transport.abort()
        self.writers.clear()
