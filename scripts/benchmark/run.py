"""The order of a benchmark run, and the report it fills.

For each N: the baseline, then one server run per store. Then, per store, the
many-rooms memory run and the recovery run. Each is guarded: a failure or a
time-out is recorded in the report and the next run starts.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import multiprocessing
import os
import platform
import subprocess
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import bench_clients as bc

from benchmark.baseline import run_baseline
from benchmark.coordinator import Coordinator
from benchmark.idle_rooms import run_idle_rooms
from benchmark.many_rooms import run_many_rooms
from benchmark.recovery import run_recovery
from benchmark.room import run_room
from benchmark.servers import SERVER_ENV
from benchmark.stores import POSTGRES_URL, Stores

ROOT = Path(__file__).resolve().parent.parent.parent
SCENARIOS = (
    "lobby",
    "broadcast",
    "answers",
    "burst",
    "reveal",
    "memory",
    "recovery",
    "idle_rooms",
    "baseline",
)
STORES = ("sqlite", "postgres")
ROOM_SCENARIOS = {
    "lobby",
    "broadcast",
    "answers",
    "burst",
    "reveal",
    "memory",
}  # measured in the one-room runs


def new_report(cfg: argparse.Namespace) -> dict[str, Any]:
    return {
        "meta": _meta(cfg),
        "runs": {},
        "baseline": {},
        "per_store": {},
        "skipped": {},
    }


def _meta(cfg: argparse.Namespace) -> dict[str, Any]:
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
        "pinned": cfg.pin,
        "verify_every": cfg.verify_every,
        "membership": cfg.membership,
        "join_rate_per_s": cfg.join_rate,
        "questions": cfg.questions,
        "answered_questions": cfg.answered,
        "answer_window_s": cfg.answer_window,
        "burst_questions": cfg.bursts,
        "memory_players": cfg.memory_players,
        "memory_rooms": cfg.memory_rooms,
        "recovery_events": cfg.recovery_events,
        "idle_rooms": cfg.idle_rooms,
        "server_env": SERVER_ENV,
        "server_log_level": cfg.server_log_level,
        "server_settings": cfg.server_settings,
        "client_loop": cfg.client_loop,
        "load_average_at_start": os.getloadavg(),
    }


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


async def run(bench: Coordinator, report: dict[str, Any]) -> dict[str, Any]:
    cfg = bench.cfg
    started = time.monotonic()
    ctx = multiprocessing.get_context("spawn")
    bench.workers = [bc.WorkerHandle(ctx, i, cfg.client_loop) for i in range(cfg.workers)]
    for worker in bench.workers:
        worker.start()
        bench.pin(worker.process.pid, server=False)
    bench.pin(os.getpid(), server=False)
    bench.session = bc.new_session()
    try:
        _check_stores(bench, report)
        for n in cfg.sizes:
            if "baseline" in cfg.scenarios:
                baseline = report["baseline"]
                await _guarded(bench, ("baseline", n), baseline, str(n), run_baseline, n)
            for store in cfg.stores if cfg.scenarios & ROOM_SCENARIOS else ():
                runs = report["runs"].setdefault(store, {})
                await _guarded(bench, (store, n), runs, str(n), run_room, store, n)
        for store in cfg.stores:
            per_store = report["per_store"].setdefault(store, {})
            if "memory" in cfg.scenarios and cfg.memory_players > 0:
                await _guarded(
                    bench, (store, "memory"), per_store, "memory_many_rooms", run_many_rooms, store
                )
            if "recovery" in cfg.scenarios:
                await _guarded(bench, (store, "recovery"), per_store, "recovery", run_recovery, store)
            if "idle_rooms" in cfg.scenarios and cfg.idle_rooms > 0:
                await _guarded(bench, (store, "idle rooms"), per_store, "idle_rooms", run_idle_rooms, store)
    finally:
        bench.progress.clear()
        for proc in bench.live:
            proc.kill()
        await bench.session.close()
        await asyncio.gather(*(w.stop() for w in bench.workers), return_exceptions=True)
        bench.stores.drop_all()
    report["meta"]["wall_s"] = round(time.monotonic() - started, 1)
    report["meta"]["load_average_at_end"] = os.getloadavg()
    if bench.profiler.summaries:
        report["profiles"] = bench.profiler.summaries
    return report


def _check_stores(bench: Coordinator, report: dict[str, Any]) -> None:
    cfg = bench.cfg
    if "postgres" in cfg.stores:
        problem = Stores.postgres_problem()
        if problem is not None:
            bench.progress.say(f"PostgreSQL skipped: no server at {POSTGRES_URL}: {problem}")
            report["skipped"]["postgres"] = problem
            cfg.stores = [s for s in cfg.stores if s != "postgres"]


async def _guarded(
    bench: Coordinator,
    what: tuple[Any, ...],
    into: dict[str, Any],
    key: str,
    fn: Callable[..., Awaitable[dict[str, Any]]],
    *args: Any,
) -> None:
    """Run one server run; a failure or a time-out is recorded, never fatal to the rest."""
    if time.monotonic() > bench.deadline:
        into[key] = {"skipped": f"--max-minutes {bench.cfg.max_minutes} reached"}
        return
    bench.progress.say(f"── {' '.join(map(str, what))}")
    try:
        into[key] = await fn(bench, *args)
    except Exception as e:  # noqa: BLE001 - recorded in the report
        bench.progress.say(f"   FAILED: {type(e).__name__}: {e}")
        into[key] = {"failed": f"{type(e).__name__}: {e}"}
        await bench.reset_workers()
