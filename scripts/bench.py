#!/usr/bin/env python3
"""Benchmark the quiz server with thousands of players (issue 7).

    .venv/bin/python scripts/bench.py --quick                 # N=50, SQLite, seconds: a smoke run
    .venv/bin/python scripts/bench.py --full --out bench.json # N=500/2,000/5,000 on SQLite and PostgreSQL
    .venv/bin/python scripts/bench.py --sizes 2000 --stores postgres --scenarios lobby,broadcast

It starts the real server (``scripts/bench_probe.py``: ``quiz-server`` with a
commit counter) as a subprocess on a free 127.0.0.1 port with a fresh store,
drives it with load-client processes (``scripts/bench_clients.py``: thousands
of aiohttp WebSocket players per process speaking PROTOCOL.md), and prints one
table (and, with ``--out``, JSON). Scenarios, each at every N on every store:

  lobby      N players join at a steady rate: join→state latency, time until
             every member view holds N+1, server CPU, traffic to the clients
  broadcast  host start/next → the last of N players has question_shown
  answers    all N answer within ~1 s: answer→answer_accepted, answers per commit
  reveal     host closes the question → the last player has question_closed + leaderboard
  memory     server RSS per player at each N, and at --memory-players over several rooms
  recovery   a room of --recovery-events events: join→state after a restart
  idle_rooms --idle-rooms rooms created and left idle (nobody online): the
             server's threads and RSS before and after, and KB per room
  baseline   scripts/baseline_server.py sends one pre-serialized frame to N sockets:
             our broadcast and reveal times are divided by its time

Everything is bounded: each wait has a timeout (a scenario that times out is
reported as such and the rest of that server run is skipped), the whole run has
--max-minutes, and only 127.0.0.1 is ever connected to. docs/benchmark.md
explains every column.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import json
import math
import multiprocessing
import os
import platform
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import aiohttp  # noqa: E402
import bench_clients as bc  # noqa: E402

POSTGRES_URL = os.environ.get("QUIZ_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
SCENARIOS = ("lobby", "broadcast", "answers", "reveal", "memory", "recovery", "idle_rooms", "baseline")
STORES = ("sqlite", "postgres")
ROOM_SCENARIOS = {"lobby", "broadcast", "answers", "reveal", "memory"}  # measured in the one-room runs

# The server as shipped, except the limits that exist to stop one address from
# flooding a room: every benchmark client comes from 127.0.0.1.
SERVER_ENV = {
    "QUIZ_MAX_PLAYERS": "20000",
    "QUIZ_MAX_CONNECTIONS": "30000",
    "QUIZ_MAX_CONNECTIONS_PER_IP": "30000",
    "QUIZ_JOINS_PER_IP_PER_MINUTE": "1000000",
    "QUIZ_ROOM_JOIN_BURST": "1000000",
    "QUIZ_ROOMS_PER_SOCKET": "1000000",
    "QUIZ_ROOMS_PER_IP_PER_MINUTE": "1000000",
}
# The idle-rooms run measures rooms that stay open: none may close while it counts.
IDLE_ROOMS_ENV = {"QUIZ_UNJOINED_ROOM_TTL_S": "86400", "QUIZ_IDLE_ROOM_TTL_S": "86400"}
IDLE_ROOM_HOSTS = 50  # sockets creating the idle rooms, each one room after another
QUESTION_TEXT = "Benchmark question {index}: which of these four answers is the right one?"
CHOICES = ["First answer", "Second answer", "Third answer", "Fourth answer"]
POLL_S = 0.2
SERVER_START_TIMEOUT_S = 60
SERVER_STOP_TIMEOUT_S = 60


class PhaseTimeout(Exception):
    """A wait that did not finish in time: reported, and the rest of the server run skipped."""


class BenchError(Exception):
    pass


# =========================================================================== small helpers


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentile(values: list[float], p: float) -> float | None:
    """Nearest-rank percentile; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def latency_summary(seconds: list[float]) -> dict:
    ms = [s * 1000 for s in seconds]
    return {
        "count": len(ms),
        "p50_ms": percentile(ms, 50),
        "p99_ms": percentile(ms, 99),
        "max_ms": max(ms) if ms else None,
    }


def per_second(sent_at: list[float], seconds: list[float], start_at: float) -> list[dict]:
    """Latencies grouped by the second (from ``start_at``) their request was sent in:
    shows whether a tail is spread evenly or comes from a few moments."""
    buckets: dict[int, list[float]] = {}
    for at, latency in zip(sent_at, seconds, strict=True):
        buckets.setdefault(max(0, int(at - start_at)), []).append(latency)
    return [{"second": second, **latency_summary(buckets[second])} for second in sorted(buckets)]


def spread_summary(ms: list[float]) -> dict:
    return {
        "samples_ms": [round(x, 2) for x in ms],
        "median_ms": statistics.median(ms) if ms else None,
        "worst_ms": max(ms) if ms else None,
    }


def _players_with(status: dict, table: str, q: int) -> int:
    """How many players have question ``q`` in a status table ("shown" or "revealed")."""
    return status.get(table, {}).get(q, (0, 0.0))[0]


def client_gc(reports: list[dict]) -> dict:
    """The load processes' collector pauses since they started, per generation, all processes together."""
    out = {}
    for generation in ("0", "1", "2"):
        entries = [r["gc"][generation] for r in reports if "gc" in r]
        out[f"gen{generation}"] = {
            "count": sum(e["count"] for e in entries),
            "total_ms": round(1000 * sum(e["total_s"] for e in entries), 1),
            "longest_ms": round(1000 * max((e["max_s"] for e in entries), default=0.0), 1),
        }
    return out


def gc_delta(before: dict, after: dict) -> dict:
    """The server's garbage-collector pauses between two probe readings, per generation.
    (The longest pause is the longest since the server started.)"""
    out = {}
    for generation, entry in after.get("gc", {}).items():
        old = before.get("gc", {}).get(generation, {"count": 0, "total_s": 0.0})
        out[f"gen{generation}"] = {
            "count": entry["count"] - old["count"],
            "total_ms": round((entry["total_s"] - old["total_s"]) * 1000, 1),
            "longest_ms": round(entry["max_s"] * 1000, 1),
        }
    return out


def machine_busy_ticks() -> tuple[int, int]:
    """(busy, total) CPU ticks of the whole machine, from /proc/stat."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, sum(fields)


def git_commit() -> str:
    try:
        out = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
        )
        dirty = subprocess.run(
            ["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
        )
        return out.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def quiz_document(questions: int) -> dict:
    return {
        "title": f"Benchmark quiz ({questions} questions)",
        "questions": [
            {
                "text": QUESTION_TEXT.format(index=i),
                "choices": CHOICES,
                "correct": [i % len(CHOICES)],
                "time_limit_s": 240,
                "points": "standard",
            }
            for i in range(questions)
        ],
    }


# =========================================================================== progress display


class Progress:
    """A heading per phase and one live status line on stderr (a line every few
    seconds when stderr is not a terminal, so logs stay short)."""

    def __init__(self, quiet: bool = False) -> None:
        self.stream = sys.stderr
        self.tty = self.stream.isatty()
        self.quiet = quiet
        self.started = time.monotonic()
        self.last_status = 0.0
        self.has_status = False

    def _stamp(self) -> str:
        return f"[{time.monotonic() - self.started:6.1f}s]"

    def say(self, text: str) -> None:
        self.clear()
        print(f"{self._stamp()} {text}", file=self.stream, flush=True)

    def status(self, text: str) -> None:
        if self.quiet:
            return
        now = time.monotonic()
        if self.tty:
            self.stream.write(f"\r\033[K{self._stamp()}   {text}")
            self.stream.flush()
            self.has_status = True
        elif now - self.last_status >= 5.0:
            print(f"{self._stamp()}   {text}", file=self.stream, flush=True)
            self.last_status = now

    def clear(self) -> None:
        if self.has_status:
            self.stream.write("\r\033[K")
            self.stream.flush()
            self.has_status = False


# =========================================================================== processes under test


class ProcessUnderTest:
    """A server subprocess on a free loopback port: start, wait until it answers, sample, stop."""

    name = "server"

    def __init__(self, workdir: Path, label: str):
        self.workdir = workdir
        self.label = label
        self.proc: subprocess.Popen | None = None
        self.port: int | None = None
        self.log_path = workdir / f"{label}.log"
        self.started_s: float | None = None

    def command(self) -> list[str]:
        raise NotImplementedError

    def environment(self) -> dict[str, str]:
        return dict(os.environ)

    async def start(self) -> float:
        """Start and wait for /healthz; returns seconds until it answered."""
        self.port = free_port()
        log = open(self.log_path, "a")
        began = time.monotonic()
        # Its own session: a Ctrl-C in the terminal reaches the benchmark, which stops it in order.
        self.proc = subprocess.Popen(
            self.command(),
            cwd=self.workdir,
            env=self.environment(),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        async with aiohttp.ClientSession() as http:
            while time.monotonic() - began < SERVER_START_TIMEOUT_S:
                if self.proc.poll() is not None:
                    raise BenchError(
                        f"{self.name} exited with {self.proc.returncode} at start:\n{self.log_tail()}"
                    )
                with contextlib.suppress(aiohttp.ClientError, OSError, TimeoutError):
                    health = f"{self.base_url}/healthz"
                    async with http.get(health, timeout=aiohttp.ClientTimeout(total=2)) as r:
                        if r.status == 200:
                            self.started_s = time.monotonic() - began
                            return self.started_s
                await asyncio.sleep(0.05)
        raise BenchError(
            f"{self.name} did not answer /healthz within {SERVER_START_TIMEOUT_S}s:\n{self.log_tail()}"
        )

    async def stop(self) -> int | None:
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        began = time.monotonic()
        while self.proc.poll() is None and time.monotonic() - began < SERVER_STOP_TIMEOUT_S:
            await asyncio.sleep(0.05)
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        return self.proc.returncode

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    def _proc_status(self) -> dict[str, str]:
        with open(f"/proc/{self.proc.pid}/status") as f:
            return dict(line.split(":", 1) for line in f if ":" in line)

    def rss_kb(self) -> int:
        return int(self._proc_status()["VmRSS"].split()[0])

    def threads(self) -> int:
        return int(self._proc_status()["Threads"])

    def cpu_s(self) -> float:
        """utime + stime of the process (all its threads), in seconds."""
        return sum(self.cpu_user_system_s())

    def cpu_user_system_s(self) -> tuple[float, float]:
        """utime and stime (in the kernel: socket I/O, mostly) of the process, in seconds."""
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        tick = os.sysconf("SC_CLK_TCK")
        return int(fields[11]) / tick, int(fields[12]) / tick

    def log_tail(self, lines: int = 30) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""

    def log_problems(self, limit: int = 10) -> dict:
        """Warnings, errors and tracebacks the process logged."""
        counts = {"warning": 0, "error": 0, "traceback": 0}
        samples: list[str] = []
        with contextlib.suppress(OSError):
            for line in self.log_path.read_text(errors="replace").splitlines():
                kind = (
                    "traceback"
                    if line.startswith("Traceback")
                    else "error"
                    if " ERROR " in line
                    else "warning"
                    if " WARNING " in line
                    else None
                )
                if kind:
                    counts[kind] += 1
                    if len(samples) < limit:
                        samples.append(line[:300])
        return {**counts, "samples": samples}


class QuizServer(ProcessUnderTest):
    name = "quiz-server"

    def __init__(
        self,
        workdir: Path,
        label: str,
        store_url: str,
        log_level: str,
        settings: dict[str, str] | None = None,
    ):
        super().__init__(workdir, label)
        self.store_url = store_url
        self.log_level = log_level
        self.settings = settings or {}
        self.probe_file = workdir / f"{label}.probe.json"

    def command(self) -> list[str]:
        return [
            sys.executable,
            str(HERE / "bench_probe.py"),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--store",
            self.store_url,
        ]

    def environment(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("QUIZ_")}
        return {
            **env,
            **SERVER_ENV,
            **self.settings,
            "QUIZ_LOG_LEVEL": self.log_level,
            "QUIZ_BENCH_PROBE_FILE": str(self.probe_file),
        }

    async def probe(self) -> dict:
        """The commit counters (scripts/bench_probe.py), read after a SIGUSR1."""
        before = self._read_probe().get("dumps", 0)
        self.proc.send_signal(signal.SIGUSR1)
        began = time.monotonic()
        while time.monotonic() - began < 10:
            counts = self._read_probe()
            if counts.get("dumps", 0) > before:
                return counts
            await asyncio.sleep(0.02)
        raise BenchError("the server's commit counters did not answer SIGUSR1")

    def _read_probe(self) -> dict:
        try:
            return json.loads(self.probe_file.read_text())
        except (OSError, ValueError):
            return {}


class BaselineServer(ProcessUnderTest):
    name = "baseline server"

    def command(self) -> list[str]:
        return [
            sys.executable,
            str(HERE / "baseline_server.py"),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
        ]


# =========================================================================== stores


class Stores:
    """Fresh stores: a SQLite file in the run's temp folder, or a PostgreSQL schema made and dropped here."""

    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.schemas: list[str] = []

    @staticmethod
    def postgres_problem() -> str | None:
        try:
            import psycopg

            with psycopg.connect(POSTGRES_URL, connect_timeout=3):
                return None
        except Exception as e:  # noqa: BLE001
            return str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__

    def fresh(self, kind: str, label: str) -> str:
        if kind == "sqlite":
            return f"sqlite:///{self.workdir / (label + '.sqlite3')}"
        import psycopg

        schema = f"bench_{label}_{uuid.uuid4().hex[:8]}".lower()
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {schema}")
        self.schemas.append(schema)
        return f"{POSTGRES_URL}?schema={schema}"

    def drop(self, url: str) -> None:
        schema = self._schema(url)
        if schema is None:
            return
        import psycopg

        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        self.schemas.remove(schema)

    def drop_all(self) -> None:
        for schema in list(self.schemas):
            with contextlib.suppress(Exception):
                self.drop(f"?schema={schema}")

    @staticmethod
    def _schema(url: str) -> str | None:
        return url.split("?schema=", 1)[1] if "?schema=" in url else None

    def query(self, url: str, sql: str, params: tuple = ()) -> list[tuple]:
        """Read the store directly (the server is stopped or not writing). ``{events}`` and
        ``{snapshots}`` name the tables: eventsourcing calls them stored_events and
        stored_snapshots in SQLite, <app name>_events and _snapshots in PostgreSQL."""
        if url.startswith("sqlite:"):
            path = url[len("sqlite:///") :]
            sql = sql.replace("%s", "?").format(events="stored_events", snapshots="stored_snapshots")
            with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
                return conn.execute(sql, params).fetchall()
        import psycopg

        schema = self._schema(url)
        sql = sql.format(events=f"{schema}.quiz_events", snapshots=f"{schema}.quiz_snapshots")
        with psycopg.connect(POSTGRES_URL) as conn:
            return conn.execute(sql, params).fetchall()

    def room_events(self, url: str, room_id: str) -> tuple[int, int]:
        """(events, snapshots) stored for one room."""
        rid = uuid.UUID(room_id).hex if url.startswith("sqlite:") else uuid.UUID(room_id)  # SQLite keeps hex
        events = self.query(url, "SELECT count(*) FROM {events} WHERE originator_id = %s", (rid,))
        snaps = self.query(url, "SELECT count(*) FROM {snapshots} WHERE originator_id = %s", (rid,))
        return events[0][0], snaps[0][0]

    def answer_commits(self, url: str) -> tuple[int, int] | None:
        """PostgreSQL only: (AnswerSubmitted rows, distinct writing transactions), from xmin."""
        if url.startswith("sqlite:"):
            return None
        rows = self.query(
            url,
            "SELECT count(*), count(DISTINCT xmin::text) FROM {events} WHERE topic LIKE %s",
            ("%AnswerSubmitted",),
        )
        return rows[0][0], rows[0][1]


# =========================================================================== the host, in this process


class Host:
    """A host (or a single probe player) played from the coordinator's own loop."""

    def __init__(self, session: aiohttp.ClientSession, name: str = "Host", code: str | None = None):
        self.session = session
        self.player = bc.Player(bc.Tally(), -1, code, name)
        self.player.inbox = asyncio.Queue()
        self.task: asyncio.Task | None = None
        self.errors: list[dict] = []

    async def connect(self, url: str, token: str | None = None) -> None:
        self.task = asyncio.ensure_future(self.player.run(self.session, url, token=token))
        await self.expect("welcome")

    async def expect(self, kind: str, timeout: float = 30.0) -> dict:
        """The next message of this type; errors on the way are kept, a close is fatal."""
        end = time.monotonic() + timeout
        while True:
            remaining = end - time.monotonic()
            if remaining <= 0:
                raise PhaseTimeout(f"{self.player.name}: no {kind} within {timeout:.0f}s")
            try:
                message = await asyncio.wait_for(self.player.inbox.get(), remaining)
            except TimeoutError:
                continue
            if message["type"] == kind:
                return message
            if message["type"] == "error":
                self.errors.append(message)
                if kind in ("room_created", "state"):
                    raise BenchError(f"{self.player.name}: {message}")
            if message["type"] == "_closed":
                raise BenchError(f"{self.player.name}: socket closed ({message['code']}) waiting for {kind}")

    def drain(self) -> None:
        """Keep the errors queued so far; drop the rest."""
        while not self.player.inbox.empty():
            message = self.player.inbox.get_nowait()
            if message["type"] == "error":
                self.errors.append(message)

    async def create_room(self, quiz_id: str) -> tuple[str, str]:
        await self.player.send({"type": "create_room", "quiz_id": quiz_id, "name": self.player.name})
        created = await self.expect("room_created")
        await self.expect("state")
        return created["code"], created["room_id"]

    async def send(self, message: dict) -> float:
        """Send; returns the monotonic time just before the send."""
        self.drain()
        sent = time.monotonic()
        await self.player.send(message)
        return sent

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.player.close(), bc.CLOSE_TIMEOUT_S)
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(BaseException):
                await self.task


# =========================================================================== profiles (--profile DIR)


class Profiler:
    """py-spy around one phase of a run, attached to the server and the load processes.

    py-spy writes its collapsed stacks when interrupted, so each phase gets its own
    file; ``summary`` turns one into the functions that took the most samples.
    """

    def __init__(self, outdir: str | None, py_spy: str | None):
        self.outdir = Path(outdir) if outdir else None
        self.py_spy = py_spy or shutil.which("py-spy")
        self.summaries: dict[str, dict[str, dict]] = {}
        if self.outdir is not None:
            if self.py_spy is None:
                raise SystemExit("--profile needs py-spy: pip install py-spy, or give --py-spy PATH")
            self.outdir.mkdir(parents=True, exist_ok=True)

    @contextlib.asynccontextmanager
    async def phase(self, label: str, pids: dict[str, int]):  # type: ignore[no-untyped-def]
        if self.outdir is None:
            yield
            return
        recorders = []
        for name, pid in pids.items():
            path = self.outdir / f"{label}.{name}.txt"
            cmd = [
                self.py_spy,
                "record",
                "--pid",
                str(pid),
                "--format",
                "raw",
                "--nolineno",
                "--nonblocking",
                "--rate",
                "100",
                "--output",
                str(path),
            ]
            if name == "server":
                # Only samples holding the GIL: in a GIL-bound server, that is where the one
                # Python core goes (waits for the disk or for a lock are not in it).
                cmd.append("--gil")
            recorder = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            recorders.append((name, path, recorder))
        await asyncio.sleep(0.5)  # attached before the phase starts
        try:
            yield
        finally:
            for _, _, proc in recorders:
                proc.send_signal(signal.SIGINT)
            for name, path, proc in recorders:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    await asyncio.get_running_loop().run_in_executor(None, proc.wait, 30)
                if proc.poll() is None:
                    proc.kill()
                self.summaries.setdefault(label, {})[name] = collapsed_summary(path)

    def render(self, top: int = 12) -> str:
        lines = []
        for label, by_process in self.summaries.items():
            for name, summary in by_process.items():
                lines.append(f"{label} · {name}: {summary.get('samples', 0)} samples")
                for frame, pct in summary.get("self", [])[:top]:
                    lines.append(f"    {pct:5.1f}%  {frame}")
        return "\n".join(lines)


def collapsed_summary(path: Path, top: int = 25) -> dict:
    """Self and inclusive sample shares per function, from py-spy's raw (collapsed) output."""
    self_counts: dict[str, int] = {}
    inclusive: dict[str, int] = {}
    total = 0
    with contextlib.suppress(OSError):
        for line in path.read_text(errors="replace").splitlines():
            stack, _, count = line.rpartition(" ")
            if not stack or not count.isdigit():
                continue
            n = int(count)
            frames = stack.split(";")
            total += n
            self_counts[frames[-1]] = self_counts.get(frames[-1], 0) + n
            for frame in set(frames):
                inclusive[frame] = inclusive.get(frame, 0) + n

    def ranked(counts: dict[str, int]) -> list[tuple[str, float]]:
        best = sorted(counts.items(), key=lambda kv: -kv[1])[:top]
        return [(frame, round(100 * c / total, 1)) for frame, c in best]

    return {"samples": total, "self": ranked(self_counts), "inclusive": ranked(inclusive)} if total else {}


# =========================================================================== the benchmark


class Bench:
    def __init__(self, cfg: argparse.Namespace):
        self.cfg = cfg
        self.progress = Progress(quiet=cfg.no_progress)
        self.workdir = Path(tempfile.mkdtemp(prefix="quiz-bench-"))
        self.stores = Stores(self.workdir)
        self.workers: list[bc.WorkerHandle] = []
        self.session: aiohttp.ClientSession | None = None
        self.deadline = time.monotonic() + cfg.max_minutes * 60
        self.live: list[ProcessUnderTest] = []
        self.profiler = Profiler(cfg.profile, cfg.py_spy)
        self.report: dict[str, Any] = {
            "meta": self._meta(),
            "runs": {},
            "baseline": {},
            "per_store": {},
            "skipped": {},
        }

    def _meta(self) -> dict:
        cfg = self.cfg
        return {
            "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            "commit": git_commit(),
            "machine": f"{os.cpu_count()} cores, {cpu_model()}",
            "python": platform.python_version(),
            "aiohttp": aiohttp.__version__,
            "sizes": cfg.sizes,
            "stores": cfg.stores,
            "scenarios": sorted(cfg.scenarios),
            "load_processes": cfg.workers,
            "verify_every": cfg.verify_every,
            "join_rate_per_s": cfg.join_rate,
            "questions": cfg.questions,
            "answered_questions": cfg.answered,
            "answer_window_s": cfg.answer_window,
            "memory_players": cfg.memory_players,
            "memory_rooms": cfg.memory_rooms,
            "recovery_events": cfg.recovery_events,
            "idle_rooms": cfg.idle_rooms,
            "server_env": SERVER_ENV,
            "server_log_level": cfg.server_log_level,
            "server_settings": cfg.server_settings,
            "load_average_at_start": os.getloadavg(),
        }

    # ------------------------------------------------------------------ the run

    async def run(self) -> dict:
        started = time.monotonic()
        ctx = multiprocessing.get_context("spawn")
        self.workers = [bc.WorkerHandle(ctx, i) for i in range(self.cfg.workers)]
        for worker in self.workers:
            worker.start()
        self.session = bc.new_session()
        try:
            self._check_stores()
            for n in self.cfg.sizes:
                if "baseline" in self.cfg.scenarios:
                    baseline = self.report["baseline"]
                    await self._guarded(("baseline", n), baseline, str(n), self.run_baseline, n)
                for store in self.cfg.stores if self.cfg.scenarios & ROOM_SCENARIOS else ():
                    runs = self.report["runs"].setdefault(store, {})
                    await self._guarded((store, n), runs, str(n), self.run_room, store, n)
            for store in self.cfg.stores:
                per_store = self.report["per_store"].setdefault(store, {})
                if "memory" in self.cfg.scenarios and self.cfg.memory_players > 0:
                    await self._guarded(
                        (store, "memory"), per_store, "memory_many_rooms", self.run_memory, store
                    )
                if "recovery" in self.cfg.scenarios:
                    await self._guarded((store, "recovery"), per_store, "recovery", self.run_recovery, store)
                if "idle_rooms" in self.cfg.scenarios and self.cfg.idle_rooms > 0:
                    await self._guarded(
                        (store, "idle rooms"), per_store, "idle_rooms", self.run_idle_rooms, store
                    )
        finally:
            self.progress.clear()
            for proc in self.live:
                proc.kill()
            await self.session.close()
            await asyncio.gather(*(w.stop() for w in self.workers), return_exceptions=True)
            self.stores.drop_all()
        self.report["meta"]["wall_s"] = round(time.monotonic() - started, 1)
        self.report["meta"]["load_average_at_end"] = os.getloadavg()
        if self.profiler.summaries:
            self.report["profiles"] = self.profiler.summaries
        return self.report

    def _check_stores(self) -> None:
        if "postgres" in self.cfg.stores:
            problem = Stores.postgres_problem()
            if problem is not None:
                self.progress.say(f"PostgreSQL skipped: no server at {POSTGRES_URL}: {problem}")
                self.report["skipped"]["postgres"] = problem
                self.cfg.stores = [s for s in self.cfg.stores if s != "postgres"]

    async def _guarded(self, what: tuple, into: dict, key: str, fn: Callable, *args: Any) -> None:
        """Run one server run; a failure or a time-out is recorded, never fatal to the rest."""
        if time.monotonic() > self.deadline:
            into[key] = {"skipped": f"--max-minutes {self.cfg.max_minutes} reached"}
            return
        self.progress.say(f"── {' '.join(map(str, what))}")
        try:
            into[key] = await fn(*args)
        except Exception as e:  # noqa: BLE001 - recorded in the report
            self.progress.say(f"   FAILED: {type(e).__name__}: {e}")
            into[key] = {"failed": f"{type(e).__name__}: {e}"}
            await self._reset_workers()

    # ------------------------------------------------------------------ load processes

    async def _call_all(self, command: str, timeout: float = 60.0, **kwargs: Any) -> list[Any]:
        return list(await asyncio.gather(*(w.call(command, timeout=timeout, **kwargs) for w in self.workers)))

    async def _status(self) -> dict:
        """The load processes' counters, added up (question tables: count added, last time maxed)."""
        statuses = await self._call_all("status", timeout=30)
        total: dict[str, Any] = {}
        for status in statuses:
            for key, value in status.items():
                if key in ("shown", "revealed"):
                    table = total.setdefault(key, {})
                    for q, (count, last) in value.items():
                        old = table.get(q, (0, 0.0))
                        table[q] = (old[0] + count, max(old[1], last))
                elif key in ("answers_sent", "accepted"):
                    table = total.setdefault(key, {})
                    for q, count in value.items():
                        table[q] = table.get(q, 0) + count
                elif key in ("converged_last", "last_state_at"):
                    total[key] = max(total.get(key, 0.0), value)
                else:
                    total[key] = total.get(key, 0) + value
        return total

    async def _wait(
        self, label: str, done: Callable[[dict], bool], show: Callable[[dict], str], timeout: float
    ) -> dict:
        """Poll the load processes until ``done``; PhaseTimeout after ``timeout`` s (or at --max-minutes)."""
        began = time.monotonic()
        while True:
            status = await self._status()
            if done(status):
                return status
            now = time.monotonic()
            if now - began > timeout or now > self.deadline:
                raise PhaseTimeout(f"{label}: not done after {now - began:.0f}s ({show(status)})")
            self.progress.status(f"{label}: {show(status)}  [{now - began:.1f}s]")
            await asyncio.sleep(POLL_S)

    async def _open_players(
        self,
        url: str,
        count: int,
        rate: float,
        codes: list[str] | None = None,
        targets: dict[str, int] | None = None,
    ) -> float:
        """Players 0..count-1 start at a steady ``rate`` a second, dealt round-robin over the
        load processes. Returns the monotonic time the first one starts."""
        start_at = time.monotonic() + 0.3
        w = len(self.workers)
        await asyncio.gather(
            *(
                worker.call(
                    "open",
                    url=url,
                    codes=codes,
                    targets=targets,
                    first=i,
                    stride=w,
                    count=len(range(i, count, w)),
                    rate=rate,
                    start_at=start_at,
                    verify_every=self.cfg.verify_every,
                )
                for i, worker in enumerate(self.workers)
            )
        )
        return start_at

    async def _reset_workers(self) -> None:
        with contextlib.suppress(Exception):
            await self._call_all("close_all", timeout=bc.CLOSE_TIMEOUT_S + 20)

    async def _problems(self) -> dict:
        """What went wrong on the clients' side: errors by code, close codes, seq gaps."""
        merged: dict[str, Any] = {
            "errors": {},
            "closes": {},
            "seq_gaps": 0,
            "repeated_members": 0,
            "answer_errors": {},
            "error_samples": [],
        }
        for p in await self._call_all("problems"):
            for key in ("errors", "closes", "answer_errors"):
                for k, v in p[key].items():
                    merged[key][k] = merged[key].get(k, 0) + v
            merged["seq_gaps"] += p["seq_gaps"]
            merged["repeated_members"] += p["repeated_members"]
            merged["error_samples"].extend(p["error_samples"][:3])
        return merged

    async def _start_server(
        self, store_url: str, label: str, settings: dict[str, str] | None = None
    ) -> QuizServer:
        server = QuizServer(
            self.workdir,
            label,
            store_url,
            self.cfg.server_log_level,
            {**(settings or {}), **self.cfg.server_settings},
        )
        self.live.append(server)
        await server.start()
        return server

    async def _stop(self, proc: ProcessUnderTest) -> int | None:
        self.progress.status(f"stopping {proc.name}")
        code = await proc.stop()
        with contextlib.suppress(ValueError):
            self.live.remove(proc)
        return code

    async def _upload_quiz(self, server: QuizServer, questions: int) -> str:
        async with self.session.post(f"{server.base_url}/api/quizzes", json=quiz_document(questions)) as r:
            body = await r.json()
            if r.status != 201:
                raise BenchError(f"quiz upload refused: {r.status} {body}")
            return body["quiz_id"]

    async def _host_room(self, server: QuizServer, quiz_id: str, name: str = "Host") -> tuple[Host, str, str]:
        host = Host(self.session, name)
        await host.connect(server.ws_url)
        code, room_id = await host.create_room(quiz_id)
        return host, code, room_id

    # ------------------------------------------------------------------ one server run at one N

    async def run_room(self, store: str, n: int) -> dict:
        """A fresh server and store; one room of N players: lobby, questions, answers, reveals."""
        url = self.stores.fresh(store, f"n{n}")
        server = await self._start_server(url, f"{store}-n{n}")
        result: dict[str, Any] = {"players": n, "server_start_s": round(server.started_s, 2)}
        host: Host | None = None
        try:
            idle_rss, idle_threads = server.rss_kb(), server.threads()
            quiz_id = await self._upload_quiz(server, self.cfg.questions)
            host, code, _ = await self._host_room(server, quiz_id)
            try:
                async with self.profiler.phase(f"{store}-n{n}-lobby", self._pids(server)):
                    result["lobby"] = await self.lobby_fill(server, code, n)
                result["memory"] = self._memory(server, n, idle_rss, idle_threads)
                if self.cfg.scenarios & {"broadcast", "answers", "reveal"}:
                    async with self.profiler.phase(f"{store}-n{n}-questions", self._pids(server)):
                        result.update(await self.play(server, host, n))
            except PhaseTimeout as e:
                self.progress.say(f"   TIMEOUT: {e}")
                result["timeout"] = str(e)
            result["client_problems"] = await self._problems()
            result["host_errors"] = host.errors[:10]
        finally:
            # The server goes first: closing 5,000 sockets one by one under a live room
            # would broadcast 5,000 member_offline to everyone still there.
            result["server_exit"] = await self._stop(server)
            await self._reset_workers()
            if host is not None:
                await host.close()
            result["server_log"] = server.log_problems()
            with contextlib.suppress(Exception):
                commits = self.stores.answer_commits(url)
                if commits is not None:
                    result.setdefault("answers", {})["postgres_xmin_check"] = {
                        "answer_events": commits[0],
                        "transactions": commits[1],
                    }
            if store == "postgres":
                self.stores.drop(url)
        self._say_room(store, n, result)
        return result

    def _pids(self, server: ProcessUnderTest) -> dict[str, int]:
        pids = {"server": server.proc.pid}
        pids.update({f"load{w.index}": w.process.pid for w in self.workers})
        return pids

    def _memory(self, server: QuizServer, players: int, idle_rss: int, idle_threads: int) -> dict:
        rss, threads = server.rss_kb(), server.threads()
        return {
            "players": players,
            "rss_kb": rss,
            "idle_rss_kb": idle_rss,
            "threads": threads,
            "idle_threads": idle_threads,
            "kb_per_player": round((rss - idle_rss) / players, 1),
        }

    async def lobby_fill(self, server: QuizServer, code: str, n: int) -> dict:
        rate = self.cfg.join_rate
        await self._call_all("reset_traffic")
        probe_before = await server.probe()
        (user0, system0), busy0, own0 = server.cpu_user_system_s(), machine_busy_ticks(), bc.process_cpu_s()
        start_at = await self._open_players(server.ws_url, n, rate, [code], {code: n + 1})

        def done(s: dict) -> bool:
            lost = s["connect_failed"] + s["join_failed"]
            return s["opened"] + s["connect_failed"] >= n and s["converged"] >= n - lost

        def show(s: dict) -> str:
            return (
                f"joined {s['joined']}/{n}, views complete {s['converged']}/{n}, "
                f"failed {s['connect_failed'] + s['join_failed']}"
            )

        timeout = self.cfg.timeout_scale * (n / rate * 2 + 60)
        status = await self._wait(f"lobby fill N={n}", done, show, timeout)
        (user1, system1), busy1, own1 = server.cpu_user_system_s(), machine_busy_ticks(), bc.process_cpu_s()
        cpu0, cpu1 = user0 + system0, user1 + system1
        busy_s = (busy1[0] - busy0[0]) / os.sysconf("SC_CLK_TCK")
        probe_after = await server.probe()
        reports = await self._call_all("fill_report")
        latencies = [x for r in reports for x in r["join_latencies"]]
        sent_at = [x for r in reports for x in r["join_sent_at"]]
        failed: dict[str, int] = {}
        for r in reports:
            for key in ("join_failed", "connect_failed"):
                for k, v in r[key].items():
                    failed[k] = failed.get(k, 0) + v
        return {
            "players": n,
            "rate_per_s": rate,
            "joined": status["joined"],
            "failed": failed,
            "join_to_state": latency_summary(latencies),
            "join_to_state_by_second": per_second(sent_at, latencies, start_at),
            "all_views_complete_s": round(status["converged_last"] - start_at, 3),
            "complete_after_last_join_ms": round(
                (status["converged_last"] - status["last_state_at"]) * 1000, 1
            ),
            "server_cpu_s": round(cpu1 - cpu0, 2),
            "server_cpu_system_s": round(system1 - system0, 2),
            "client_cpu_s": round(status["cpu_s"], 2),
            "machine_busy_pct": round(100 * (busy1[0] - busy0[0]) / max(1, busy1[1] - busy0[1]), 1),
            # Whatever else used the CPU meanwhile: PostgreSQL, the kernel's share, other jobs on the machine.
            "other_cpu_s": round(busy_s - (cpu1 - cpu0) - status["cpu_s"] - (own1 - own0), 2),
            "frames": status["frames"],
            "messages": status["messages"],
            "mb": round(status["chars"] / 1e6, 2),
            "gc": gc_delta(probe_before, probe_after),
            "load_client_gc": client_gc(reports),
        }

    async def play(self, server: QuizServer, host: Host, n: int) -> dict:
        """Questions: each is shown (broadcast); the last ``answered`` ones are answered by
        every player (answer burst; the question then closes by itself), the others are
        closed by the host (reveal)."""
        cfg = self.cfg
        questions, answered = cfg.questions, set(range(cfg.questions - cfg.answered, cfg.questions))
        shown_ms: list[float] = []
        reveal_ms: list[float] = []
        after_answers_ms: list[float] = []
        latencies: list[float] = []
        bursts: list[dict] = []
        wait_s = cfg.timeout_scale * (30 + n / 100)
        probe_before = await server.probe()
        cpu0 = server.cpu_s()
        for q in range(questions):
            expected = (await self._status())["joined_alive"]
            sent = await host.send({"type": "start" if q == 0 else "next"})
            status = await self._wait_shown(q, expected, wait_s)
            shown_ms.append((status["shown"][q][1] - sent) * 1000)
            if q in answered:
                burst = await self._answer_burst(q, expected, wait_s)
                latencies.extend(burst.pop("latencies"))
                bursts.append(burst)
                if burst["accepted"] < expected:
                    await host.send({"type": "next"})  # answers were refused: it will not close by itself
                status = await self._wait_revealed(q, expected, wait_s)
                if burst["accepted"] >= expected:
                    after_answers_ms.append((status["revealed"][q][1] - burst["last_sent"]) * 1000)
            else:
                closed = await host.send({"type": "next"})
                status = await self._wait_revealed(q, expected, wait_s)
                reveal_ms.append((status["revealed"][q][1] - closed) * 1000)
        cpu1 = server.cpu_s()
        probe_after = await server.probe()
        out: dict[str, Any] = {
            "questions_cpu_s": round(cpu1 - cpu0, 2),
            "questions_gc": gc_delta(probe_before, probe_after),
        }
        out["broadcast"] = spread_summary(shown_ms)
        out["reveal"] = {**spread_summary(reveal_ms), "after_all_answered": spread_summary(after_answers_ms)}
        if answered:
            saves = probe_after["answer_saves"] - probe_before["answer_saves"]
            events = probe_after["answer_events"] - probe_before["answer_events"]
            durations = [b["last_accepted"] - b["first_sent"] for b in bursts if b["last_accepted"]]
            out["answers"] = {
                "answer_to_accepted": latency_summary(latencies),
                "answers_sent": sum(b["sent"] for b in bursts),
                "accepted": len(latencies),
                "answer_commits": saves,
                "answer_events": events,
                "answers_per_commit": round(events / saves, 1) if saves else None,
                "max_answers_per_commit": probe_after["max_answers_per_save"],
                "answers_per_s": round(len(latencies) / sum(durations), 0) if durations else None,
                "bursts": bursts,
                "store_save_s_during_questions": round(probe_after["save_s"] - probe_before["save_s"], 3),
            }
        return out

    async def _answer_burst(self, q: int, expected: int, wait_s: float) -> dict:
        before = await self._status()
        start_at = time.monotonic() + 0.05
        window = self.cfg.answer_window
        scheduled = sum(await self._call_all("answer", question=q, start_at=start_at, window_s=window))
        errors_before = before["answer_errors"]

        def done(s: dict) -> bool:
            resolved = s.get("accepted", {}).get(q, 0) + s["answer_errors"] - errors_before
            return s.get("answers_sent", {}).get(q, 0) >= scheduled and resolved >= scheduled

        def show(s: dict) -> str:
            return f"{s.get('accepted', {}).get(q, 0)}/{scheduled} accepted"

        await self._wait(f"answers to question {q}", done, show, wait_s + window)
        reports = await self._call_all("answer_report", question=q)
        firsts = [r["first_sent"] for r in reports if r["first_sent"]]
        lasts = [r["last_sent"] for r in reports if r["last_sent"]]
        accepted_lasts = [r["last_accepted"] for r in reports if r["last_accepted"]]
        latencies = [x for r in reports for x in r["latencies"]]
        return {
            "question": q,
            "players": expected,
            "sent": sum(r["sent"] for r in reports),
            "accepted": len(latencies),
            "latencies": latencies,
            "first_sent": min(firsts) if firsts else None,
            "last_sent": max(lasts) if lasts else None,
            "last_accepted": max(accepted_lasts) if accepted_lasts else None,
        }

    async def _wait_shown(self, q: int, expected: int, wait_s: float) -> dict:
        """Until ``expected`` players have question ``q``."""
        return await self._wait(
            f"question {q} shown",
            lambda s: _players_with(s, "shown", q) >= expected,
            lambda s: f"{_players_with(s, 'shown', q)}/{expected} have it",
            wait_s,
        )

    async def _wait_revealed(self, q: int, expected: int, wait_s: float) -> dict:
        """Until ``expected`` players have question ``q``'s results and the leaderboard."""
        label = f"question {q} results"
        return await self._wait(
            label,
            lambda s: _players_with(s, "revealed", q) >= expected,
            lambda s: f"{_players_with(s, 'revealed', q)}/{expected} have them",
            wait_s,
        )

    def _say_room(self, store: str, n: int, r: dict) -> None:
        lobby, answers = r.get("lobby", {}), r.get("answers", {})
        parts = []
        if lobby:
            j = lobby["join_to_state"]
            parts.append(
                f"join p99 {fmt(j['p99_ms'])} ms, views {fmt(lobby['all_views_complete_s'])} s, "
                f"CPU {fmt(lobby['server_cpu_s'])} s"
            )
        if "broadcast" in r:
            parts.append(f"broadcast {fmt(r['broadcast']['median_ms'])} ms")
        if answers.get("answer_to_accepted"):
            parts.append(
                f"answer p99 {fmt(answers['answer_to_accepted']['p99_ms'])} ms, "
                f"{fmt(answers['answers_per_commit'])}/commit"
            )
        if "reveal" in r:
            parts.append(f"reveal {fmt(r['reveal']['median_ms'])} ms")
        if "timeout" in r:
            parts.append("TIMEOUT")
        self.progress.say(f"   {store} N={n}: " + "; ".join(parts))

    # ------------------------------------------------------------------ baseline

    async def run_baseline(self, n: int) -> dict:
        server = BaselineServer(self.workdir, f"baseline-n{n}")
        self.live.append(server)
        await server.start()
        host = Host(self.session, "Baseline host")
        try:
            idle_rss = server.rss_kb()
            await host.connect(server.ws_url)
            await self._open_players(server.ws_url, n, rate=max(self.cfg.join_rate, 1000))
            await self._wait(
                f"baseline: {n} sockets",
                lambda s: s["welcomed"] + s["connect_failed"] >= n,
                lambda s: f"{s['welcomed']}/{n} connected",
                self.cfg.timeout_scale * (n / 1000 * 2 + 30),
            )
            rss = server.rss_kb()
            times: list[float] = []
            profiled = self.profiler.phase(f"baseline-n{n}", self._pids(server))
            await profiled.__aenter__()
            for q in range(self.cfg.questions):
                expected = (await self._status())["welcomed"]
                sent = await host.send({"type": "next"})
                status = await self._wait_shown(q, expected, self.cfg.timeout_scale * 30)
                times.append((status["shown"][q][1] - sent) * 1000)
            await profiled.__aexit__(None, None, None)
            async with self.session.get(f"{server.base_url}/healthz") as r:
                loops = (await r.json())["broadcast_loop_s"]
            result = {
                "sockets": n,
                **spread_summary(times),
                "send_loop_ms": [round(x * 1000, 2) for x in loops],
                "rss_kb": rss,
                "kb_per_socket": round((rss - idle_rss) / n, 1),
            }
            self.progress.say(
                f"   baseline N={n}: broadcast {fmt(result['median_ms'])} ms "
                f"(worst {fmt(result['worst_ms'])} ms)"
            )
            return result
        finally:
            await self._reset_workers()  # nothing to protect here: clients may leave first
            await host.close()
            await self._stop(server)

    # ------------------------------------------------------------------ memory over several rooms

    async def run_memory(self, store: str) -> dict:
        players, rooms = self.cfg.memory_players, self.cfg.memory_rooms
        url = self.stores.fresh(store, "memory")
        server = await self._start_server(url, f"{store}-memory")
        hosts: list[Host] = []
        try:
            idle_rss, idle_threads = server.rss_kb(), server.threads()
            quiz_id = await self._upload_quiz(server, 1)
            codes = []
            for r in range(rooms):
                host, code, _ = await self._host_room(server, quiz_id, f"Host {r}")
                hosts.append(host)
                codes.append(code)
            targets = {code: len(range(i, players, rooms)) + 1 for i, code in enumerate(codes)}
            rate = self.cfg.memory_rate
            start_at = await self._open_players(server.ws_url, players, rate, codes, targets)
            status = await self._wait(
                f"memory: {players} players in {rooms} rooms",
                lambda s: (
                    s["opened"] + s["connect_failed"] >= players
                    and s["converged"] >= players - s["connect_failed"] - s["join_failed"]
                ),
                lambda s: f"joined {s['joined']}/{players}, views complete {s['converged']}",
                self.cfg.timeout_scale * (players / rate * 2 + 90),
            )
            result = {
                "rooms": rooms,
                **self._memory(server, players, idle_rss, idle_threads),
                "joined": status["joined"],
                "fill_s": round(status["converged_last"] - start_at, 2),
                "client_problems": await self._problems(),
            }
            self.progress.say(
                f"   {store} memory: {players} players in {rooms} rooms: "
                f"{result['kb_per_player']} KB/player, {result['threads']} threads"
            )
            return result
        finally:
            await self._stop(server)
            await self._reset_workers()
            for host in hosts:
                await host.close()
            if store == "postgres":
                self.stores.drop(url)

    # ------------------------------------------------------------------ idle rooms

    async def run_idle_rooms(self, store: str) -> dict:
        """--idle-rooms rooms, created by a few sockets one after another (so each room
        but a socket's last has nobody online), then left alone: what they cost."""
        rooms = self.cfg.idle_rooms
        url = self.stores.fresh(store, "idle_rooms")
        server = await self._start_server(url, f"{store}-idle-rooms", IDLE_ROOMS_ENV)
        hosts: list[Host] = []
        try:
            quiz_id = await self._upload_quiz(server, 1)
            idle_rss, idle_threads = server.rss_kb(), server.threads()
            hosts = [Host(self.session, f"Host {i}") for i in range(min(IDLE_ROOM_HOSTS, rooms))]
            for host in hosts:
                await host.connect(server.ws_url)
            created = 0

            async def create(host: Host, count: int) -> None:
                nonlocal created
                for _ in range(count):
                    await host.create_room(quiz_id)
                    created += 1
                    self.progress.status(f"idle rooms: {created}/{rooms} created")

            began = time.monotonic()
            shares = [len(range(i, rooms, len(hosts))) for i in range(len(hosts))]
            await asyncio.wait_for(
                asyncio.gather(*(create(h, n) for h, n in zip(hosts, shares, strict=True))),
                self.cfg.timeout_scale * (rooms / 20 + 60),
            )
            create_s = time.monotonic() - began
            for host in hosts:  # now nobody is online in any room
                await host.close()
            await asyncio.sleep(2.0)  # let the last rooms hear their host went offline
            rss, threads = server.rss_kb(), server.threads()
            result = {
                "rooms": rooms,
                "create_s": round(create_s, 2),
                "rooms_per_s": round(rooms / create_s, 1),
                "idle_rss_kb": idle_rss,
                "idle_threads": idle_threads,
                "rss_kb": rss,
                "threads": threads,
                "kb_per_room": round((rss - idle_rss) / rooms, 1),
            }
            self.progress.say(
                f"   {store} idle rooms: {rooms} rooms, {threads} threads (before: {idle_threads}), "
                f"{result['kb_per_room']} KB/room, RSS {rss // 1024} MB"
            )
            return result
        finally:
            for host in hosts:
                await host.close()
            await self._stop(server)
            if store == "postgres":
                self.stores.drop(url)

    # ------------------------------------------------------------------ recovery

    async def run_recovery(self, store: str) -> dict:
        """Build a room of --recovery-events events (players answering many questions,
        every answer an event), restart the server, time the first join→state."""
        events_wanted = self.cfg.recovery_events
        players = max(self.cfg.recovery_players, math.ceil(events_wanted / 100))
        questions = min(100, max(1, math.ceil((events_wanted - players - 2) / (players + 2))))
        url = self.stores.fresh(store, "recovery")
        server = await self._start_server(url, f"{store}-recovery")
        host: Host | None = None
        result: dict[str, Any] = {"players": players, "questions": questions}
        try:
            quiz_id = await self._upload_quiz(server, questions)
            host, code, room_id = await self._host_room(server, quiz_id)
            await self._open_players(server.ws_url, players, 500.0, [code], {code: players + 1})
            await self._wait(
                "recovery: players joining",
                lambda s: s["converged"] >= players,
                lambda s: f"{s['converged']}/{players} joined",
                self.cfg.timeout_scale * 60,
            )
            wait_s = self.cfg.timeout_scale * 30
            for q in range(questions):
                self.progress.status(f"recovery: building the room, question {q + 1}/{questions}")
                await host.send({"type": "start" if q == 0 else "next"})
                await self._wait_shown(q, players, wait_s)
                await self._answer_burst_quietly(q, players, wait_s)
            # A member the restart can bring back: it joins now and keeps its token.
            probe = Host(self.session, "Probe", code=code)
            await probe.connect(server.ws_url)
            await probe.expect("state")
            token = probe.player.token
            await probe.close()
        finally:
            if host is not None:
                await host.close()
            await self._stop(server)  # players still connected: a restart, not a room emptying
            await self._reset_workers()
        result["events"], result["snapshots"] = self.stores.room_events(url, room_id)
        result["restarts"] = []
        try:
            for _ in range(self.cfg.recovery_restarts):
                result["restarts"].append(await self._restart_and_rejoin(url, store, code, token))
        finally:
            if store == "postgres":
                self.stores.drop(url)
        firsts = [r["first_join_ms"] for r in result["restarts"]]
        result["activation_ms"] = spread_summary(firsts)
        self.progress.say(
            f"   {store} recovery: room of {result['events']} events "
            f"({result['snapshots']} snapshots): first join→state after restart "
            f"{fmt(result['activation_ms']['median_ms'])} ms"
        )
        return result

    async def _answer_burst_quietly(self, q: int, players: int, wait_s: float) -> None:
        """Everyone answers at once; the question closes itself when all have."""
        before = await self._status()
        await self._call_all("answer", question=q, start_at=time.monotonic() + 0.01, window_s=0.2)

        def done(s: dict) -> bool:
            return _players_with(s, "revealed", q) >= players or s["answer_errors"] > before["answer_errors"]

        await self._wait(
            f"recovery answers {q}",
            done,
            lambda s: f"{s.get('accepted', {}).get(q, 0)}/{players} accepted",
            wait_s,
        )

    async def _restart_and_rejoin(self, url: str, store: str, code: str, token: str) -> dict:
        server = QuizServer(
            self.workdir, f"{store}-recovery", url, self.cfg.server_log_level, self.cfg.server_settings
        )
        self.live.append(server)
        started_s = await server.start()
        try:
            joins = []
            for _ in range(2):  # the first activates the room; the second finds it running
                probe = Host(self.session, "Probe", code=code)
                await probe.connect(server.ws_url, token=token)
                await probe.expect("state")
                joins.append(probe.player.tally.join_latencies[-1] * 1000)
                await probe.close()
            return {
                "server_start_s": round(started_s, 2),
                "first_join_ms": round(joins[0], 2),
                "second_join_ms": round(joins[1], 2),
            }
        finally:
            await self._stop(server)


# =========================================================================== the table


def fmt(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        if abs(value) >= 100:
            return f"{value:,.0f}"
        if abs(value) >= 10:
            return f"{value:.1f}"
        return f"{value:.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def pair(a: Any, b: Any) -> str:
    return f"{fmt(a)} / {fmt(b)}"


def ratio(ours: float | None, base: float | None) -> str:
    if ours is None or not base:
        return "—"
    return f"{ours / base:.1f}×"


def _get(d: Any, path: str) -> Any:
    """``d["a"]["b"]`` for the path "a.b"; None where any part is missing (a run that failed)."""
    for key in path.split("."):
        if isinstance(d, list) and key.isdigit() and int(key) < len(d):
            d = d[int(key)]
        elif isinstance(d, dict) and key in d:
            d = d[key]
        else:
            return None
    return d


# A cell of the per-N table is computed from one server run (r) and the baseline at that N (b).
Cell = Callable[[dict, dict], str]


def one(path: str) -> Cell:
    return lambda r, b: fmt(_get(r, path))


def two(first: str, second: str) -> Cell:
    return lambda r, b: pair(_get(r, first), _get(r, second))


def over_baseline(path: str) -> Cell:
    return lambda r, b: ratio(_get(r, path), _get(b, "median_ms"))


ROOM_ROWS: list[tuple[str, Cell]] = [
    ("1 lobby    join→state p50 / p99 ms", two("lobby.join_to_state.p50_ms", "lobby.join_to_state.p99_ms")),
    ("           all views hold N+1 after s", one("lobby.all_views_complete_s")),
    ("           server CPU s (fill)", one("lobby.server_cpu_s")),
    ("           frames / MB to players", two("lobby.frames", "lobby.mb")),
    ("2 broadcast median / worst ms", two("broadcast.median_ms", "broadcast.worst_ms")),
    ("7 baseline median / worst ms", lambda r, b: pair(_get(b, "median_ms"), _get(b, "worst_ms"))),
    ("           broadcast ÷ baseline", over_baseline("broadcast.median_ms")),
    (
        "3 answers  accepted p50 / p99 ms",
        two("answers.answer_to_accepted.p50_ms", "answers.answer_to_accepted.p99_ms"),
    ),
    ("           answers per commit", one("answers.answers_per_commit")),
    ("4 reveal   median / worst ms", two("reveal.median_ms", "reveal.worst_ms")),
    ("           reveal ÷ baseline", over_baseline("reveal.median_ms")),
    ("5 memory   KB per player / threads", two("memory.kb_per_player", "memory.threads")),
    (
        "  server full GCs in questions / longest ms",
        two("questions_gc.gen2.count", "questions_gc.gen2.longest_ms"),
    ),
    ("  problems errors / closes / view faults", lambda r, b: problems_cell(r)),
]

# A cell of the per-store table is computed from that store's memory and recovery runs.
STORE_ROWS: list[tuple[str, Callable[[dict], str]]] = [
    (
        "5 memory   players in rooms",
        lambda d: f"{fmt(_get(d, 'memory_many_rooms.players'))} in {fmt(_get(d, 'memory_many_rooms.rooms'))}",
    ),
    (
        "           KB per player / threads",
        lambda d: pair(_get(d, "memory_many_rooms.kb_per_player"), _get(d, "memory_many_rooms.threads")),
    ),
    ("           server RSS MB", lambda d: fmt(_rss_mb(_get(d, "memory_many_rooms.rss_kb")))),
    (
        "8 idle rooms  rooms / threads (before)",
        lambda d: (
            f"{fmt(_get(d, 'idle_rooms.rooms'))} / {fmt(_get(d, 'idle_rooms.threads'))} "
            f"({fmt(_get(d, 'idle_rooms.idle_threads'))})"
        ),
    ),
    (
        "           server RSS MB / KB per room",
        lambda d: pair(_rss_mb(_get(d, "idle_rooms.rss_kb")), _get(d, "idle_rooms.kb_per_room")),
    ),
    ("           rooms created per s", lambda d: fmt(_get(d, "idle_rooms.rooms_per_s"))),
    (
        "6 recovery events / snapshots in room",
        lambda d: pair(_get(d, "recovery.events"), _get(d, "recovery.snapshots")),
    ),
    (
        "           first join→state after restart median / worst ms",
        lambda d: pair(
            _get(d, "recovery.activation_ms.median_ms"), _get(d, "recovery.activation_ms.worst_ms")
        ),
    ),
    (
        "           next join→state ms",
        lambda d: fmt(_median_of(_get(d, "recovery.restarts"), "second_join_ms")),
    ),
]


def problems_cell(r: dict) -> str:
    if "failed" in r:
        return "FAILED"
    if "skipped" in r:
        return "skipped"
    p = r.get("client_problems") or {}
    closes = sum(v for k, v in (p.get("closes") or {}).items() if k not in ("1000", "1001"))
    text = (
        f"{sum((p.get('errors') or {}).values())} / {closes} / "
        f"{p.get('seq_gaps', 0) + p.get('repeated_members', 0)}"
    )
    return text + (" TIMEOUT" if "timeout" in r else "")


def render_table(report: dict) -> str:
    runs, baseline, per_store = report["runs"], report["baseline"], report["per_store"]
    columns = [(store, n) for store in runs for n in runs[store]]
    lines = []
    if columns:
        header = ["scenario / metric"] + [f"{store} N={int(n):,}" for store, n in columns]
        body = [
            [label] + [cell(runs[s][n], baseline.get(n, {})) for s, n in columns] for label, cell in ROOM_ROWS
        ]
        lines += _grid(header, body)
    per_store = {store: runs for store, runs in per_store.items() if runs}
    if per_store:
        header = ["per store"] + list(per_store)
        body = [[label] + [_or_failure(per_store[s], cell) for s in per_store] for label, cell in STORE_ROWS]
        lines += [""] + _grid(header, body)
    meta = report["meta"]
    lines += [
        "",
        f"{meta['date']} · commit {meta['commit']} · {meta['machine']} · "
        f"{meta['load_processes']} load processes · joins at {meta['join_rate_per_s']}/s · "
        f"{meta.get('wall_s', '?')} s",
    ]
    for store, why in report.get("skipped", {}).items():
        lines.append(f"{store} skipped: {why}")
    return "\n".join(lines)


def _rss_mb(kb: int | None) -> float | None:
    return None if kb is None else kb / 1024


def _median_of(items: list[dict] | None, key: str) -> float | None:
    values = [i[key] for i in items or [] if i.get(key) is not None]
    return statistics.median(values) if values else None


def _or_failure(d: dict, cell: Callable[[dict], str]) -> str:
    for key in ("memory_many_rooms", "recovery", "idle_rooms"):
        sub = d.get(key) or {}
        if "failed" in sub or "skipped" in sub:
            text = cell(d)
            if "—" in text:
                return "FAILED" if "failed" in sub else "skipped"
    return cell(d)


def _grid(header: list[str], body: list[list[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in [header, *body]) for i in range(len(header))]

    def line(row: list[str]) -> str:
        cells = [c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)]
        return "  ".join([row[0].ljust(widths[0]), *cells])

    return [line(header), "  ".join("-" * w for w in widths)] + [line(r) for r in body]


# =========================================================================== command line


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Benchmark the quiz server (issue 7); see docs/benchmark.md.")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument(
        "--quick", action="store_true", help="smoke run: N=50, SQLite, small memory and recovery rooms"
    )
    mode.add_argument(
        "--full", action="store_true", help="N=500,2000,5000 on SQLite and PostgreSQL (the default)"
    )
    p.add_argument("--sizes", help="players per room, comma-separated (default 500,2000,5000)")
    p.add_argument("--stores", help="sqlite,postgres (default both)")
    p.add_argument("--scenarios", help=f"comma-separated subset of {','.join(SCENARIOS)} (default all)")
    p.add_argument("--out", help="write the results as JSON to this file")
    p.add_argument("--workers", type=int, default=2, help="load-client processes (default 2)")
    p.add_argument("--join-rate", type=float, default=200.0, help="lobby joins per second (default 200)")
    p.add_argument("--questions", type=int, help="questions per run (default 8)")
    p.add_argument(
        "--answered", type=int, help="of which answered by everyone (default 2; the rest closed by the host)"
    )
    p.add_argument(
        "--answer-window", type=float, default=1.0, help="seconds over which all players answer (default 1)"
    )
    p.add_argument("--memory-players", type=int, help="players for the many-rooms memory run (default 10000)")
    p.add_argument("--memory-rooms", type=int, help="rooms they are spread over (default 10)")
    p.add_argument("--memory-rate", type=float, default=500.0, help="their joins per second (default 500)")
    p.add_argument("--recovery-events", type=int, help="events in the recovery room (default 10000)")
    p.add_argument("--idle-rooms", type=int, help="rooms in the idle-rooms run (default 5000)")
    p.add_argument(
        "--recovery-players", type=int, default=250, help="players building the recovery room (default 250)"
    )
    p.add_argument("--recovery-restarts", type=int, help="restarts timed (default 3)")
    p.add_argument(
        "--verify-every",
        type=int,
        help="one player in this many keeps the full set of member ids (the others count "
        "their view); default 10, 1 with --quick",
    )
    p.add_argument("--timeout-scale", type=float, default=1.0, help="multiply every wait's time-out")
    p.add_argument(
        "--max-minutes", type=float, default=45.0, help="stop starting new runs after this (default 45)"
    )
    p.add_argument(
        "--server-log-level", default="WARNING", help="the server's QUIZ_LOG_LEVEL (default WARNING)"
    )
    p.add_argument(
        "--server-setting",
        action="append",
        default=[],
        metavar="QUIZ_NAME=VALUE",
        help="a server setting for every server of the run (repeatable), e.g. "
        "QUIZ_FANOUT_WINDOW_S=0.1; the server sees no other QUIZ_* variable of this shell",
    )
    p.add_argument("--no-progress", action="store_true", help="no live status line on stderr")
    p.add_argument(
        "--keep",
        action="store_true",
        help="keep the work folder (server logs, SQLite stores); "
        "it is kept anyway when a run failed or timed out",
    )
    p.add_argument(
        "--profile",
        metavar="DIR",
        help="py-spy the server and load processes in each phase; "
        "collapsed stacks go to DIR, a summary to the report",
    )
    p.add_argument("--py-spy", metavar="PATH", help="the py-spy binary (default: the one on PATH)")
    cfg = p.parse_args(argv)

    quick = cfg.quick
    default_sizes = [50] if quick else [500, 2000, 5000]
    cfg.sizes = [int(x) for x in cfg.sizes.split(",")] if cfg.sizes else default_sizes
    cfg.stores = cfg.stores.split(",") if cfg.stores else (["sqlite"] if quick else list(STORES))
    cfg.scenarios = set(cfg.scenarios.split(",")) if cfg.scenarios else set(SCENARIOS)
    defaults = {  # option: (with --quick, otherwise)
        "questions": (3, 8),
        "answered": (1, 2),
        "memory_players": (200, 10_000),
        "memory_rooms": (4, 10),
        "recovery_events": (600, 10_000),
        "idle_rooms": (100, 5_000),
        "recovery_restarts": (1, 3),
        "verify_every": (1, 10),
    }
    for name, (small, big) in defaults.items():
        if getattr(cfg, name) is None:
            setattr(cfg, name, small if quick else big)
    if quick:
        cfg.recovery_players = min(cfg.recovery_players, 50)
    unknown = (cfg.scenarios - set(SCENARIOS)) | (set(cfg.stores) - set(STORES))
    if unknown:
        p.error(f"unknown scenario or store: {', '.join(sorted(unknown))}")
    cfg.server_settings = {}
    for item in cfg.server_setting:
        name, sep, value = item.partition("=")
        if not sep or not name.startswith("QUIZ_"):
            p.error(f"--server-setting wants QUIZ_NAME=VALUE, not {item!r}")
        cfg.server_settings[name] = value
    if not 0 <= cfg.answered <= cfg.questions:
        p.error("--answered must be between 0 and --questions")
    if "answers" not in cfg.scenarios:
        cfg.answered = 0
    if "reveal" in cfg.scenarios and cfg.answered == cfg.questions:
        p.error("reveal needs at least one question the host closes: --answered below --questions")
    return cfg


def main(argv: list[str] | None = None) -> int:
    cfg = parse_args(argv)
    bc.raise_fd_limit()  # inherited by the servers this starts
    bench = Bench(cfg)
    bench.progress.say(
        f"quiz-actors benchmark: sizes {cfg.sizes}, stores {cfg.stores}, "
        f"scenarios {','.join(s for s in SCENARIOS if s in cfg.scenarios)}; "
        f"work folder {bench.workdir}"
    )
    try:
        report = asyncio.run(bench.run())
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    table = render_table(report)
    report["table"] = table
    if cfg.out:  # first: a closed stdout must not lose the results
        Path(cfg.out).write_text(json.dumps(report, indent=2, default=str))
        bench.progress.say(f"results written to {cfg.out}")
    print(table, flush=True)
    if bench.profiler.summaries:
        print(
            "\nWhere the samples went (self time, per phase and process):\n" + bench.profiler.render(),
            flush=True,
        )
    if cfg.keep or _anything_failed(report):
        bench.progress.say(f"server logs and stores kept in {bench.workdir}")
    else:
        shutil.rmtree(bench.workdir, ignore_errors=True)
    return 0


def _anything_failed(report: Any) -> bool:
    """A run recorded as failed, timed out or skipped anywhere in the report."""
    if isinstance(report, dict):
        return any(
            (key in ("failed", "timeout", "skipped") and isinstance(value, str)) or _anything_failed(value)
            for key, value in report.items()
        )
    if isinstance(report, list):
        return any(_anything_failed(item) for item in report)
    return False


if __name__ == "__main__":
    sys.exit(main())
