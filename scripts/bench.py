#!/usr/bin/env python3
"""Benchmark the quiz server with thousands of players (issue 7).

    .venv/bin/python scripts/bench.py --quick                 # N=50, SQLite, seconds: a smoke run
    .venv/bin/python scripts/bench.py --full --out bench.json # N=500/2,000/5,000 on SQLite and PostgreSQL
    .venv/bin/python scripts/bench.py --sizes 2000 --stores postgres --scenarios lobby,broadcast

It starts the real server (``scripts/bench_probe.py``: ``quiz-server`` with a
commit counter) as a subprocess on a free 127.0.0.1 port with a fresh store,
drives it with load-client processes (``scripts/bench_clients.py``: thousands
of aiohttp WebSocket players per process speaking docs/protocol.md), and prints one
table (and, with ``--out``, JSON). Scenarios, each at every N on every store:

  lobby      N players join at a steady rate: join→state latency, time until
             every member view holds N+1, server CPU, traffic to the clients
  broadcast  host start/next → the last of N players has question_shown
  answers    all N answer within ~1 s: answer→answer_accepted, answers per commit
  burst      all N but one answer in the same instant: answer→answer_accepted, the
             first acknowledgement, server CPU per accepted answer, answers per commit
  reveal     host closes the question → the last player has question_closed + leaderboard
  memory     server RSS per player at each N, and at --memory-players over several rooms
  recovery   a room of --recovery-events events: join→state after a restart
  idle_rooms --idle-rooms rooms created and left idle (nobody online): the
             server's threads and RSS before and after, and KB per room
  baseline   scripts/baseline_server.py sends one message to N sockets, by a send_str
             loop and by a frame built once, taking turns: our broadcast and reveal
             times are divided by the faster

Everything is bounded: each wait has a timeout (a scenario that times out is
reported as such and the rest of that server run is skipped), the whole run has
--max-minutes, and only 127.0.0.1 is ever connected to. docs/benchmark.md
explains every column.

This file is the command line; the benchmark itself is in ``scripts/benchmark/``:
``run.py`` (the order of the runs and the report), ``coordinator.py`` (what the
scenarios share: load processes, servers, waits), one module per scenario
(``room.py``: lobby, broadcast, answers, reveal and memory at N; ``baseline.py``;
``many_rooms.py``; ``recovery.py``; ``idle_rooms.py``), ``servers.py`` and ``stores.py`` (the
processes under test and their fresh stores), ``host.py``, ``table.py``,
``stats.py``, ``profiler.py`` and ``progress.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import bench_clients as bc  # noqa: E402
from benchmark.coordinator import Coordinator  # noqa: E402
from benchmark.run import SCENARIOS, STORES, new_report, run  # noqa: E402
from benchmark.table import render_table  # noqa: E402


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
        "--bursts",
        type=int,
        help="of which answered by all but one player in the same instant (default 2; 1 with --quick)",
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
    p.add_argument(
        "--membership",
        choices=("summary", "full"),
        default="summary",
        help="what the players' joins ask for: membership summaries in a big room, as the web "
        "client does (default), or every change one by one, as a v1 client",
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
    p.add_argument(
        "--pin",
        action="store_true",
        help="the servers under test on the first core, the load processes and this one on the others "
        "(os.sched_setaffinity), so the server has a core to itself; other jobs are not moved",
    )
    p.add_argument(
        "--client-loop",
        choices=("uvloop", "asyncio"),
        default="uvloop",
        help="the load processes' event loop (default uvloop: less of the shared cores spent by the clients)",
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
    p.add_argument("--profile-rate", type=int, default=100, help="py-spy samples per second (default 100)")
    cfg = p.parse_args(argv)

    quick = cfg.quick
    default_sizes = [50] if quick else [500, 2000, 5000]
    cfg.sizes = [int(x) for x in cfg.sizes.split(",")] if cfg.sizes else default_sizes
    cfg.stores = cfg.stores.split(",") if cfg.stores else (["sqlite"] if quick else list(STORES))
    cfg.scenarios = set(cfg.scenarios.split(",")) if cfg.scenarios else set(SCENARIOS)
    defaults = {  # option: (with --quick, otherwise)
        "questions": (3, 8),
        "answered": (1, 2),
        "bursts": (1, 2),
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
    if cfg.pin and (not hasattr(os, "sched_setaffinity") or (os.cpu_count() or 1) < 2):
        p.error("--pin needs Linux and at least two cores")
    if unknown:
        p.error(f"unknown scenario or store: {', '.join(sorted(unknown))}")
    cfg.server_settings = {}
    for item in cfg.server_setting:
        name, sep, value = item.partition("=")
        if not sep or not name.startswith("QUIZ_"):
            p.error(f"--server-setting wants QUIZ_NAME=VALUE, not {item!r}")
        cfg.server_settings[name] = value
    if "answers" not in cfg.scenarios:
        cfg.answered = 0
    if "burst" not in cfg.scenarios:
        cfg.bursts = 0
    if cfg.answered < 0 or cfg.bursts < 0 or cfg.answered + cfg.bursts > cfg.questions:
        p.error("--answered plus --bursts must be between 0 and --questions")
    if "reveal" in cfg.scenarios and cfg.answered + cfg.bursts == cfg.questions:
        p.error(
            "reveal needs at least one question the host closes: --answered plus --bursts below --questions"
        )
    return cfg


def main(argv: list[str] | None = None) -> int:
    cfg = parse_args(argv)
    bc.raise_fd_limit()  # inherited by the servers this starts
    bench = Coordinator(cfg)
    report = new_report(cfg)
    bench.progress.say(
        f"quiz-actors benchmark: sizes {cfg.sizes}, stores {cfg.stores}, "
        f"scenarios {','.join(s for s in SCENARIOS if s in cfg.scenarios)}; "
        f"work folder {bench.workdir}"
    )
    try:
        report = asyncio.run(run(bench, report))
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
