"""What every scenario of a run shares, in the coordinating process.

The options, the work folder, the fresh stores, the load-client processes (and
the small commands the coordinator sends them), the servers running now (so an
interrupted run can kill them), the HTTP session, the profiler and the progress
line. Scenarios (``room.py``, ``baseline.py``, ``many_rooms.py``,
``recovery.py``) are functions of a ``Coordinator``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import bench_clients as bc

from benchmark.errors import BenchError, PhaseTimeout
from benchmark.host import Host
from benchmark.profiler import Profiler
from benchmark.progress import Progress
from benchmark.servers import ProcessUnderTest, QuizServer
from benchmark.stores import Stores

QUESTION_TEXT = "Benchmark question {index}: which of these four answers is the right one?"
CHOICES = ["First answer", "Second answer", "Third answer", "Fourth answer"]
POLL_S = 0.2


def players_with(status: dict[str, Any], table: str, q: int) -> int:
    """How many players have question ``q`` in a status table ("shown" or "revealed")."""
    count: int = status.get(table, {}).get(q, (0, 0.0))[0]
    return count


def quiz_document(questions: int) -> dict[str, Any]:
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


class Coordinator:
    def __init__(self, cfg: argparse.Namespace):
        self.cfg = cfg
        self.progress = Progress(quiet=cfg.no_progress)
        self.workdir = Path(tempfile.mkdtemp(prefix="quiz-bench-"))
        self.stores = Stores(self.workdir)
        self.workers: list[bc.WorkerHandle] = []
        self._session: aiohttp.ClientSession | None = None  # opened by run, on its event loop
        self.deadline = time.monotonic() + cfg.max_minutes * 60
        self.live: list[ProcessUnderTest] = []
        self.profiler = Profiler(cfg.profile, cfg.py_spy, cfg.profile_rate)
        # The cores this run may use, read before --pin moves anything (children inherit).
        self._cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise BenchError("the HTTP session is opened when the run starts")
        return self._session

    @session.setter
    def session(self, session: aiohttp.ClientSession) -> None:
        self._session = session

    # ------------------------------------------------------------------ cores

    def pin(self, pid: int, server: bool) -> None:
        """With ``--pin``: a server under test on the first core alone, everything
        of the benchmark's own (load processes, this process) on the others."""
        if not self.cfg.pin:
            return
        cores = self._cores
        os.sched_setaffinity(pid, set(cores[:1]) if server else set(cores[1:]))

    # ------------------------------------------------------------------ load processes

    async def call_all(self, command: str, timeout: float = 60.0, **kwargs: Any) -> list[Any]:
        return list(await asyncio.gather(*(w.call(command, timeout=timeout, **kwargs) for w in self.workers)))

    async def status(self) -> dict[str, Any]:
        """The load processes' counters, added up (question tables: count added, last time maxed)."""
        statuses = await self.call_all("status", timeout=30)
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

    async def wait(
        self,
        label: str,
        done: Callable[[dict[str, Any]], bool],
        show: Callable[[dict[str, Any]], str],
        timeout: float,
    ) -> dict[str, Any]:
        """Poll the load processes until ``done``; PhaseTimeout after ``timeout`` s (or at --max-minutes)."""
        began = time.monotonic()
        while True:
            status = await self.status()
            if done(status):
                return status
            now = time.monotonic()
            if now - began > timeout or now > self.deadline:
                raise PhaseTimeout(f"{label}: not done after {now - began:.0f}s ({show(status)})")
            self.progress.status(f"{label}: {show(status)}  [{now - began:.1f}s]")
            await asyncio.sleep(POLL_S)

    async def wait_shown(self, q: int, expected: int, wait_s: float) -> dict[str, Any]:
        """Until ``expected`` players have question ``q``."""
        return await self.wait(
            f"question {q} shown",
            lambda s: players_with(s, "shown", q) >= expected,
            lambda s: f"{players_with(s, 'shown', q)}/{expected} have it",
            wait_s,
        )

    async def wait_revealed(self, q: int, expected: int, wait_s: float) -> dict[str, Any]:
        """Until ``expected`` players have question ``q``'s results and the leaderboard."""
        label = f"question {q} results"
        return await self.wait(
            label,
            lambda s: players_with(s, "revealed", q) >= expected,
            lambda s: f"{players_with(s, 'revealed', q)}/{expected} have them",
            wait_s,
        )

    async def open_players(
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
                    membership=self.cfg.membership,
                )
                for i, worker in enumerate(self.workers)
            )
        )
        return start_at

    async def reset_workers(self) -> None:
        with contextlib.suppress(Exception):
            await self.call_all("close_all", timeout=bc.CLOSE_TIMEOUT_S + 20)

    async def problems(self) -> dict[str, Any]:
        """What went wrong on the clients' side: errors by code, close codes, seq gaps."""
        merged: dict[str, Any] = {
            "errors": {},
            "closes": {},
            "seq_gaps": 0,
            "repeated_members": 0,
            "answer_errors": {},
            "error_samples": [],
        }
        for p in await self.call_all("problems"):
            for key in ("errors", "closes", "answer_errors"):
                for k, v in p[key].items():
                    merged[key][k] = merged[key].get(k, 0) + v
            merged["seq_gaps"] += p["seq_gaps"]
            merged["repeated_members"] += p["repeated_members"]
            merged["error_samples"].extend(p["error_samples"][:3])
        return merged

    # ------------------------------------------------------------------ servers

    async def start_server(
        self, store_url: str, label: str, settings: dict[str, str] | None = None
    ) -> QuizServer:
        """``settings``: the run's own QUIZ_ variables (--server-setting still wins)."""
        server = QuizServer(
            self.workdir,
            label,
            store_url,
            self.cfg.server_log_level,
            {**(settings or {}), **self.cfg.server_settings},
        )
        self.live.append(server)
        await server.start()
        self.pin(server.pid, server=True)
        return server

    async def stop(self, proc: ProcessUnderTest) -> int | None:
        self.progress.status(f"stopping {proc.name}")
        code = await proc.stop()
        with contextlib.suppress(ValueError):
            self.live.remove(proc)
        return code

    async def upload_quiz(self, server: QuizServer, questions: int) -> str:
        async with self.session.post(f"{server.base_url}/api/quizzes", json=quiz_document(questions)) as r:
            body = await r.json()
            if r.status != 201:
                raise BenchError(f"quiz upload refused: {r.status} {body}")
            quiz_id: str = body["quiz_id"]
            return quiz_id

    async def host_room(self, server: QuizServer, quiz_id: str, name: str = "Host") -> tuple[Host, str, str]:
        host = Host(self.session, name)
        await host.connect(server.ws_url)
        code, room_id = await host.create_room(quiz_id)
        return host, code, room_id

    def pids(self, server: ProcessUnderTest) -> dict[str, int]:
        pids = {"server": server.pid}
        pids.update({f"load{w.index}": w.process.pid for w in self.workers})
        return pids

    async def memory(
        self, server: QuizServer, players: int, idle_rss: int, idle_threads: int
    ) -> dict[str, Any]:
        """RSS per player after a fill, with what explains it: the RSS high-water
        (``VmHWM``), glibc's in-use and free-but-kept memory, and the most bytes the
        server held for sockets that had not read them yet (``bench_probe.py``)."""
        rss, threads, peak = server.rss_kb(), server.threads(), server.rss_peak_kb()
        probe = await server.probe()
        apart = await server.rss_apart()  # after the readings above: it changes what it reads
        return {
            "players": players,
            "rss_kb": rss,
            "rss_peak_kb": peak,
            "idle_rss_kb": idle_rss,
            "threads": threads,
            "idle_threads": idle_threads,
            "kb_per_player": round((rss - idle_rss) / players, 1),
            "malloc_kb": probe.get("malloc"),
            "rss_apart_kb": apart,
            "held_for_sockets_kb": {
                k: v // 1024 if k != "peak_sockets_behind" else v
                for k, v in probe.get("held_bytes", {}).items()
            },
        }
