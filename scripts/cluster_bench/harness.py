"""A cluster under test: ``size`` real nodes (``--cluster``) on a fresh schema of one
PostgreSQL, and HAProxy from contrib/haproxy.cfg, all on loopback.

The processes come from tests/cluster_nodes.py, the harness of the cluster tests
(same lease TTL 2 s, renew 0.5 s, HAProxy checks every 0.3 s)."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import psycopg

from tests.cluster_nodes import NODES, Cluster, Proxy, revive

CLK_TCK = os.sysconf("SC_CLK_TCK")
ANSWER_TOPIC = "quiz_actors.domain.room:Room.AnswerSubmitted"
READY_TIMEOUT_S = 120  # several nodes starting at once on a loaded machine


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, from /proc (10 ms ticks)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except FileNotFoundError:  # a node that was killed
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def on_cpu_seconds(pid: int) -> float:
    """Time the process's live threads spent on a CPU, in nanoseconds (/proc schedstat): finer
    than utime + stime's 10 ms ticks, for a process whose threads live as long as it does
    (HAProxy's; a node's threads come and go, and an exited thread's time is not counted)."""
    total = 0
    for stat in Path(f"/proc/{pid}/task").glob("*/schedstat"):
        try:
            total += int(stat.read_text().split()[0])
        except (FileNotFoundError, IndexError, ValueError):
            continue
    return total / 1e9


def run_queue_wait_seconds(pid: int) -> float:
    """Time the process's threads spent runnable but waiting for a CPU (/proc schedstat):
    on a shared machine, how much the others held us back."""
    total = 0
    for stat in Path(f"/proc/{pid}/task").glob("*/schedstat"):
        try:
            total += int(stat.read_text().split()[1])
        except (FileNotFoundError, IndexError, ValueError):
            continue
    return total / 1e9


@dataclass
class Bench:
    size: int
    nodes: Cluster
    proxy: Proxy
    http: aiohttp.ClientSession
    database: str  # the PostgreSQL URL without the schema
    schema: str
    quiz_id: str = ""
    health_at_ready: dict[str, int] = field(default_factory=dict)

    def health_since_ready(self) -> dict[str, int]:
        """HAProxy's failed health checks and servers marked down since every node was up
        (before that, the nodes were still starting)."""
        now = self.proxy.health_events()
        return {key: count - self.health_at_ready.get(key, 0) for key, count in now.items()}

    def alive(self) -> list[str]:
        return [name for name in self.nodes.names if self.nodes.processes[name].poll() is None]

    def node_cpu(self) -> float:
        return sum(cpu_seconds(self.nodes.processes[name].pid) for name in self.alive())

    def node_run_queue_wait(self) -> float:
        return sum(run_queue_wait_seconds(self.nodes.processes[name].pid) for name in self.alive())

    def proxy_cpu(self) -> float:
        assert self.proxy.process is not None
        return on_cpu_seconds(self.proxy.process.pid)

    async def saves(self) -> tuple[float, float]:
        """(commits, answers stored) so far, summed over the live nodes' /metrics."""
        commits = answers = 0.0
        for name in self.alive():
            async with self.http.get(self.nodes.base(name) + "/metrics") as response:
                text = await response.text()
            commits += _metric(text, "quiz_store_save_seconds_count")
            answers += _metric(text, "quiz_answers_stored_total")
        return commits, answers

    def answers_stored(self, room_ids: list[str]) -> tuple[int, int]:
        """(answers stored, distinct answers) for these rooms, from the store itself."""
        with psycopg.connect(self.database) as conn:
            row = conn.execute(
                f"SELECT count(*), count(DISTINCT (originator_id, state)) FROM {self.schema}.quiz_events"
                " WHERE topic = %s AND originator_id = ANY(%s)",
                (ANSWER_TOPIC, [uuid.UUID(r) for r in room_ids]),
            ).fetchone()
        assert row is not None
        return int(row[0]), int(row[1])

    async def revive(self) -> list[str]:
        """Start again the nodes that exited (killed, drained); wait until HAProxy routes to them."""
        return await revive(self.http, self.nodes, self.proxy)

    async def upload(self, quiz: dict) -> str:
        async with self.http.post(self.nodes.base(self.alive()[0]) + "/api/quizzes", json=quiz) as response:
            assert response.status == 201, await response.text()
            return str((await response.json())["quiz_id"])


def _metric(text: str, name: str) -> float:
    match = re.search(rf"^{name} ([0-9.e+]+)$", text, re.M)
    return float(match.group(1)) if match else 0.0


def require_haproxy() -> None:
    if shutil.which("haproxy") is None:
        raise SystemExit("bench_cluster.py needs HAProxy (Debian: apt-get install haproxy)")


@contextlib.asynccontextmanager
async def cluster(
    size: int, database: str, work: Path, haproxy_config: Path | None = None
) -> AsyncIterator[Bench]:
    schema = "bench_" + uuid.uuid4().hex[:10]
    with psycopg.connect(database, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    log_dir = work / f"nodes{size}"
    log_dir.mkdir(exist_ok=True)
    nodes = Cluster(
        f"{database}?schema={schema}", "--drain-grace-s", "1", names=NODES[:size], log_dir=log_dir
    )
    proxy = Proxy(nodes, log_dir, only=NODES[:size], source=haproxy_config)
    try:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
            proxy.start()
            nodes.start_all()
            for name in nodes.names:
                await nodes.wait_ready(http, name, timeout=READY_TIMEOUT_S)
            await proxy.wait_ready(http)
            for name in nodes.names:
                await proxy.wait_routing(http, name)
            yield Bench(size, nodes, proxy, http, database, schema, health_at_ready=proxy.health_events())
    finally:
        proxy.stop()
        nodes.stop_all()
        with psycopg.connect(database, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")
