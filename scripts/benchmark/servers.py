"""The processes under test: the quiz server (``scripts/bench_probe.py``) and the
raw aiohttp baseline (``scripts/baseline_server.py``), each a subprocess on a
free loopback port, started, sampled from ``/proc`` and stopped."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp

from benchmark.errors import BenchError

SCRIPTS = Path(__file__).resolve().parent.parent

# The server as shipped, except the limits that exist to stop one address from
# flooding a room: every benchmark client comes from 127.0.0.1. And no drain
# before a restart (SIGTERM): there is no load balancer to wait for.
SERVER_ENV = {
    "QUIZ_DRAIN_GRACE_S": "0",
    "QUIZ_MAX_PLAYERS": "20000",
    "QUIZ_MAX_CONNECTIONS": "30000",
    "QUIZ_MAX_CONNECTIONS_PER_IP": "30000",
    "QUIZ_JOINS_PER_IP_PER_MINUTE": "1000000",
    "QUIZ_ROOM_JOIN_BURST": "1000000",
    "QUIZ_ROOMS_PER_SOCKET": "1000000",
    "QUIZ_ROOMS_PER_IP_PER_MINUTE": "1000000",
    # Answers open as each question is shown: the bots answer at once, and the
    # get-ready phase would only refuse them (it is measured nowhere here).
    "QUIZ_GET_READY_S": "0",
}
SERVER_START_TIMEOUT_S = 60
SERVER_STOP_TIMEOUT_S = 60


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class ProcessUnderTest:
    """A server subprocess on a free loopback port: start, wait until it answers, sample, stop."""

    name = "server"

    def __init__(self, workdir: Path, label: str):
        self.workdir = workdir
        self.label = label
        self.proc: subprocess.Popen[bytes] | None = None
        self.port: int | None = None
        self.log_path = workdir / f"{label}.log"
        self.started_s = 0.0  # seconds until /healthz answered, set by start

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
    def process(self) -> subprocess.Popen[bytes]:
        if self.proc is None:
            raise BenchError(f"{self.name} has not been started")
        return self.proc

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    def _proc_status(self) -> dict[str, str]:
        with open(f"/proc/{self.pid}/status") as f:
            return dict(line.split(":", 1) for line in f if ":" in line)

    def rss_kb(self) -> int:
        return int(self._proc_status()["VmRSS"].split()[0])

    def rss_peak_kb(self) -> int:
        """``VmHWM``: the most RSS the process has had."""
        return int(self._proc_status()["VmHWM"].split()[0])

    def threads(self) -> int:
        return int(self._proc_status()["Threads"])

    def cpu_s(self) -> float:
        """utime + stime of the process (all its threads), in seconds."""
        return sum(self.cpu_user_system_s())

    def cpu_user_system_s(self) -> tuple[float, float]:
        """utime and stime (in the kernel: socket I/O, mostly) of the process, in seconds."""
        with open(f"/proc/{self.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        tick = os.sysconf("SC_CLK_TCK")
        return int(fields[11]) / tick, int(fields[12]) / tick

    def log_tail(self, lines: int = 30) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""

    def log_problems(self, limit: int = 10) -> dict[str, Any]:
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
            str(SCRIPTS / "bench_probe.py"),
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

    async def rss_apart(self) -> dict[str, Any]:
        """The RSS before and after a full collection and a ``malloc_trim`` (``bench_probe.py``)."""
        self.process.send_signal(signal.SIGUSR2)
        await asyncio.sleep(0.5)  # the collection of a big room takes a few hundred ms at most
        return dict((await self.probe()).get("rss_apart", {}))

    async def probe(self) -> dict[str, Any]:
        """The commit counters (scripts/bench_probe.py), read after a SIGUSR1."""
        before = self._read_probe().get("dumps", 0)
        self.process.send_signal(signal.SIGUSR1)
        began = time.monotonic()
        while time.monotonic() - began < 10:
            counts = self._read_probe()
            if counts.get("dumps", 0) > before:
                return counts
            await asyncio.sleep(0.02)
        raise BenchError("the server's commit counters did not answer SIGUSR1")

    def _read_probe(self) -> dict[str, Any]:
        try:
            counts: dict[str, Any] = json.loads(self.probe_file.read_text())
            return counts
        except (OSError, ValueError):
            return {}


class BaselineServer(ProcessUnderTest):
    name = "baseline server"

    def __init__(self, workdir: Path, label: str, event_loop: str = "uvloop"):
        super().__init__(workdir, label)
        self.event_loop = event_loop  # the quiz server's (QUIZ_EVENT_LOOP): compared on the same loop

    def command(self) -> list[str]:
        return [
            sys.executable,
            str(SCRIPTS / "baseline_server.py"),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--event-loop",
            self.event_loop,
        ]
