#!/usr/bin/env python3
"""Benchmark cluster mode: 1, 2 and 3 nodes on one PostgreSQL behind HAProxy (issue 19).

    .venv/bin/python scripts/bench_cluster.py                      # 1, 2 and 3 nodes, a few minutes
    .venv/bin/python scripts/bench_cluster.py --quick --out c.json # seconds per size: a smoke run
    .venv/bin/python scripts/bench_cluster.py --nodes 3 --fault-runs 10

For each cluster size it starts that many real nodes (``--cluster``) on a fresh
schema of ``--store``'s database (dropped afterwards) and HAProxy from
contrib/haproxy.cfg, all on loopback (tests/cluster_nodes.py, the cluster tests'
harness), and measures, through HAProxy as the web client connects:

  load       --rooms rooms of --players players play --questions questions at
             once: rooms and players served, redirects per join, the nodes' CPU
             seconds (/proc) per 1,000 acknowledged answers, answers in the store
  paced      the same rooms and answers, but each room's players answer one after
             another over --paced-spread-s seconds: the nodes' CPU per 1,000
             answers at a rate that leaves the two cores room to spare, so that
             it shows what the cluster adds rather than what the processes lose
             taking turns on saturated cores
  ceiling    fresh rooms of --ceiling-players playing --ceiling-questions as fast
             as they can, more rooms each step (--ceiling-steps) until the
             cluster's commits per second (the nodes' /metrics) stop rising by 10 %
  broadcast  one room of --broadcast-players; the same players through HAProxy
             and straight to the owner, taking turns: host next → last player
             has question_shown
  faults     (2 nodes or more) --fault-runs kill -9 and SIGSTOP runs and
             --drain-runs SIGTERM runs of a room's owner mid-question: time until
             every client is back in the same question; answers acknowledged
             against answers stored

Every wait has a timeout, every loop a count, each scenario --scenario-minutes:
a scenario that fails or times out is reported as such and the next one runs.
It prints one table (and, with --out, JSON). docs/benchmark.md ("Cluster")
explains it and says what limits the cluster.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import tempfile
import time
import traceback
from collections.abc import Awaitable
from pathlib import Path
from typing import Any

import aiohttp

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # cluster_bench
sys.path.insert(0, str(HERE.parent))  # tests (the cluster harness), quiz_actors from a checkout

from cluster_bench.broadcast import run_broadcast  # noqa: E402
from cluster_bench.ceiling import run_ceiling  # noqa: E402
from cluster_bench.faults import fault_run  # noqa: E402
from cluster_bench.game import quiz  # noqa: E402
from cluster_bench.harness import cluster, require_haproxy  # noqa: E402
from cluster_bench.load import run_load  # noqa: E402
from cluster_bench.table import render  # noqa: E402

SCENARIOS = ("load", "paced", "ceiling", "broadcast", "faults")
QUICK = {
    "rooms": 2,
    "players": 5,
    "questions": 2,
    "ceiling_steps": [1, 2],
    "ceiling_players": 3,
    "ceiling_questions": 2,
    "broadcast_players": 5,
    "broadcast_rounds": 1,
    "broadcast_per_round": 2,
    "fault_runs": 1,
    "drain_runs": 1,
    "fault_players": 4,
}


def log(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def describe(error: Exception) -> str:
    if isinstance(error, aiohttp.WSServerHandshakeError):  # its repr is all headers
        return f"socket refused: HTTP {error.status} {error.message} ({error.request_info.url})"
    return repr(error)[:500]


async def guarded(name: str, work: Awaitable[Any], minutes: float) -> Any:
    """A scenario's result, or what went wrong: a failure never ends the run."""
    began = time.monotonic()
    try:
        result = await asyncio.wait_for(work, minutes * 60)
    except TimeoutError:
        result = {"failed": f"timed out after {minutes} min"}
    except Exception as e:  # reported in the table and the JSON, then the next scenario
        result = {"failed": describe(e)}
        log(f"{name} failed:\n" + "".join(traceback.format_exception(e)))  # where, for whoever reads why
    log(f"{name}: {json.dumps(result)[:300]} ({time.monotonic() - began:.1f} s)")
    return result


async def run_size(args: argparse.Namespace, size: int, work: Path) -> dict[str, Any]:
    result: dict[str, Any] = {"nodes": size}
    minutes = args.scenario_minutes
    async with cluster(size, args.store, work, args.haproxy_config) as bench:
        bench.quiz_id = await bench.upload(quiz(max(args.questions, args.ceiling_questions)))
        if "load" in args.scenarios:
            result["load"] = await guarded(
                f"{size} nodes load", run_load(bench, args.rooms, args.players, args.questions), minutes
            )
        if "paced" in args.scenarios:
            result["paced"] = await guarded(
                f"{size} nodes paced load",
                run_load(bench, args.rooms, args.players, args.questions, args.paced_spread_s),
                minutes,
            )
        if "ceiling" in args.scenarios:
            result["ceiling"] = await guarded(
                f"{size} nodes ceiling",
                run_ceiling(
                    bench, args.ceiling_steps, args.ceiling_players, args.ceiling_questions, minutes * 45
                ),
                minutes,
            )
        if "broadcast" in args.scenarios:
            result["broadcast"] = await guarded(
                f"{size} nodes broadcast",
                run_broadcast(bench, args.broadcast_players, args.broadcast_rounds, args.broadcast_per_round),
                minutes,
            )
        # Before the fault runs, which mark nodes down on purpose: a node marked down here
        # had its sockets cut while it was alive (too slow to answer HAProxy's checks).
        result["health"] = bench.health_since_ready()
        if size >= 2 and "faults" in args.scenarios:
            result["faults"] = []
            kinds = ["kill"] * args.fault_runs + ["stop"] * args.fault_runs + ["drain"] * args.drain_runs
            for n, kind in enumerate(kinds):
                run = await guarded(
                    f"{size} nodes {kind} {n + 1}/{len(kinds)}",
                    fault_run(bench, kind, args.fault_players),
                    minutes,
                )
                result["faults"].append({"kind": kind, **run})
    return result


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--store", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--nodes", type=int, nargs="*", default=[1, 2, 3], choices=[1, 2, 3])
    parser.add_argument(
        "--scenarios",
        type=lambda s: set(s.split(",")),
        default=set(SCENARIOS),
        help=f"a comma-separated subset of {','.join(SCENARIOS)}",
    )
    parser.add_argument("--rooms", type=int, default=8)
    parser.add_argument("--players", type=int, default=40)
    parser.add_argument("--questions", type=int, default=10)
    parser.add_argument(
        "--paced-spread-s",
        type=float,
        default=1.0,
        help="paced: each room's players answer one after another over this many seconds",
    )
    parser.add_argument(
        "--ceiling-steps", type=lambda s: [int(n) for n in s.split(",")], default=[2, 4, 8, 16, 32, 64, 128]
    )
    parser.add_argument("--ceiling-players", type=int, default=3)
    parser.add_argument("--ceiling-questions", type=int, default=10)
    parser.add_argument("--broadcast-players", type=int, default=100)
    parser.add_argument("--broadcast-rounds", type=int, default=4)
    parser.add_argument("--broadcast-per-round", type=int, default=10)
    parser.add_argument("--fault-runs", type=int, default=5, help="kill -9 runs and SIGSTOP runs per size")
    parser.add_argument("--drain-runs", type=int, default=3)
    parser.add_argument("--fault-players", type=int, default=30)
    parser.add_argument("--scenario-minutes", type=float, default=6.0, help="a bound on each scenario")
    parser.add_argument(
        "--haproxy-config",
        type=Path,
        help="HAProxy's configuration, written like contrib/haproxy.cfg (the default): to compare a variant",
    )
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke run of every scenario")
    parser.add_argument("--out", type=Path, help="write the results and the table as JSON here")
    parser.add_argument(
        "--logs",
        type=Path,
        help="keep the nodes' and HAProxy's logs in this folder (nodesN/) instead of a temporary one",
    )
    args = parser.parse_args()
    if args.quick:
        for key, value in QUICK.items():
            setattr(args, key, value)
    if args.broadcast_rounds * 2 * args.broadcast_per_round + 1 > 100:  # a quiz's limit
        parser.error("--broadcast-rounds × 2 × --broadcast-per-round must be less than 100")
    return args


async def main() -> None:
    args = parse()
    require_haproxy()
    load_before = os.getloadavg()
    began = time.time()
    results = []
    with contextlib.ExitStack() as stack:
        if args.logs is None:
            work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-cluster-")))
        else:
            work = args.logs
            work.mkdir(parents=True, exist_ok=True)
        for size in args.nodes:
            results.append(await run_size(args, size, work))
    load_after = os.getloadavg()
    table = render(results)
    meta = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(began)),
        "minutes": round((time.time() - began) / 60, 1),
        "cores": os.cpu_count(),
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in load_after],
        "args": {
            k: sorted(v) if isinstance(v, set) else str(v) if isinstance(v, Path) else v
            for k, v in vars(args).items()
            if k != "out"
        },
    }
    print(table)
    if args.haproxy_config:
        print(f"\nHAProxy configuration: {args.haproxy_config}")
    print(
        f"\n{meta['date']}, {meta['minutes']} min, {meta['cores']} cores; load average (1/5/15 min) "
        f"before {load_before[0]:.1f}/{load_before[1]:.1f}/{load_before[2]:.1f}, "
        f"after {load_after[0]:.1f}/{load_after[1]:.1f}/{load_after[2]:.1f}"
    )
    if args.out:
        args.out.write_text(json.dumps({"meta": meta, "results": results, "table": table}, indent=1) + "\n")


if __name__ == "__main__":
    asyncio.run(main())
