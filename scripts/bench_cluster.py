#!/usr/bin/env python3
"""Benchmark cluster mode: 1, 2 and 3 nodes on one PostgreSQL behind HAProxy (issue 19).

    python scripts/bench_cluster.py --rooms 6 --players 30
    python scripts/bench_cluster.py --nodes 3 --rooms 12 --players 50 --store postgresql://postgres@127.0.0.1:5432/test

For each cluster size it starts that many real nodes (``--cluster``) on a fresh
schema of ``--store``'s database (created here, dropped afterwards) and HAProxy
from contrib/haproxy.cfg, on loopback ports. Through HAProxy, as the web client
does (``?room=CODE``, redirects followed): each room's host creates it, its
players join, the host opens a question and every player answers. It reports:

* rooms and players served, and on how many nodes the rooms landed;
* redirects followed per join;
* the nodes' CPU seconds (all node processes, from /proc) per 1,000 acknowledged
  answers, over the answering phase only;
* the answers each node stored (from the store, exactly once each);
* with 2 or more nodes, the failover after kill -9 of one room's owner: the time
  until every client of that room is back in the same question.

The processes and HAProxy come from tests/cluster_nodes.py, the same harness as
the cluster tests. One PostgreSQL serves every node: see docs/benchmark.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import aiohttp
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.client import ConnectionClosed  # noqa: E402
from tests.cluster_nodes import NODES, Cluster, Proxy, connect, enter  # noqa: E402
from tests.conftest import create_room  # noqa: E402

QUIZ = {
    "title": "Cluster benchmark",
    "questions": [{"text": "Pick b", "choices": ["a", "b", "c"], "correct": [1], "time_limit_s": 240}],
}
CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime + stime


async def answer(client) -> bool:
    reply = await client.request(
        {"type": "answer", "question": 0, "choice": 1}, "answer_accepted", timeout=60
    )
    return reply["type"] == "answer_accepted"


async def rejoin(http, proxy: Proxy, code: str, client, hint: str | None, deadline: float):
    """Into the room through HAProxy (again, for ``client``), retrying while sockets fail."""
    while True:
        try:
            token = client.token if client is not None else None
            return await enter(http, proxy.ws, code, f"P{uuid.uuid4().hex[:8]}", token, hint)
        except (TimeoutError, OSError, ConnectionClosed, AssertionError, aiohttp.ClientError):
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.1)


async def run_size(args: argparse.Namespace, size: int, tmp: Path) -> dict:
    schema = "bench_" + uuid.uuid4().hex[:10]
    with psycopg.connect(args.store, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    store = f"{args.store}?schema={schema}"
    nodes = Cluster(store, names=NODES[:size], log_dir=tmp / f"nodes{size}")
    (tmp / f"nodes{size}").mkdir(exist_ok=True)
    proxy = Proxy(nodes, tmp / f"nodes{size}", only=NODES[:size])  # the servers that run
    result: dict = {"nodes": size}
    try:
        nodes.start_all()
        proxy.start()
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
            await asyncio.gather(*(nodes.wait_ready(http, name, timeout=120) for name in nodes.names))
            await proxy.wait_ready(http)
            async with http.post(nodes.base(NODES[0]) + "/api/quizzes", json=QUIZ) as response:
                quiz_id = (await response.json())["quiz_id"]
            rooms = []
            for _ in range(args.rooms):
                host = await connect(http, proxy.ws)
                code, _ = await create_room(host, quiz_id)
                rooms.append((host, code, host.ws._response.headers["X-Quiz-Node"]))
            joined = []
            for _, code, _ in rooms:
                players = await asyncio.gather(
                    *(
                        rejoin(http, proxy, code, None, None, time.monotonic() + 60)
                        for _ in range(args.players)
                    )
                )
                joined.append(players)
            result["rooms"], result["players"] = len(rooms), sum(len(p) for p in joined)
            result["owners"] = len({owner for _, _, owner in rooms})
            result["redirects"] = statistics.mean(r for players in joined for _, _, r, _ in players)
            for host, _, _ in rooms:
                await host.send({"type": "start"})
            for players in joined:
                await asyncio.gather(*(c.expect("question_shown", index=0, timeout=60) for c, *_ in players))
            pids = [nodes.processes[name].pid for name in nodes.names]
            cpu_before, started = sum(cpu_seconds(p) for p in pids), time.monotonic()
            acks = await asyncio.gather(*(answer(c) for players in joined for c, *_ in players))
            result["answer_phase_s"] = time.monotonic() - started
            result["acks"] = sum(acks)
            result["cpu_per_1000"] = (sum(cpu_seconds(p) for p in pids) - cpu_before) / result["acks"] * 1000
            with psycopg.connect(args.store) as conn:
                stored = conn.execute(
                    f"SELECT count(*), count(DISTINCT (originator_id, state)) FROM {schema}.quiz_events"
                    " WHERE topic = 'quiz_actors.domain.room:Room.AnswerSubmitted'"
                ).fetchone()
            result["stored"], result["distinct"] = stored
            if size >= 2:
                host, code, owner = rooms[0]
                everyone = [host, *(c for c, *_ in joined[0])]
                nodes.signal(owner, signal.SIGKILL)
                killed = time.monotonic()
                await asyncio.gather(*(rejoin(http, proxy, code, c, owner, killed + 60) for c in everyone))
                result["failover_kill_s"] = time.monotonic() - killed
    finally:
        proxy.stop()
        nodes.stop_all()
        with psycopg.connect(args.store, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")
    return result


def print_table(results: list[dict]) -> None:
    head = (
        "| nodes | rooms | players | nodes serving rooms | redirects / join | acks | answers stored "
        "(distinct) | CPU s / 1,000 acks | answer phase s | failover after kill -9 s |"
    )
    print(head)
    print("|---" * 10 + "|")
    for r in results:
        failover = f"{r['failover_kill_s']:.2f}" if "failover_kill_s" in r else "–"
        print(
            f"| {r['nodes']} | {r['rooms']} | {r['players']} | {r['owners']} | {r['redirects']:.2f} | "
            f"{r['acks']} | {r['stored']} ({r['distinct']}) | {r['cpu_per_1000']:.2f} | "
            f"{r['answer_phase_s']:.2f} | {failover} |"
        )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--nodes", type=int, nargs="*", default=[1, 2, 3], choices=[1, 2, 3])
    parser.add_argument("--rooms", type=int, default=6)
    parser.add_argument("--players", type=int, default=30)
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-cluster-") as tmp:
        for size in args.nodes:
            results.append(await run_size(args, size, Path(tmp)))
            print(results[-1], flush=True)
    print_table(results)


if __name__ == "__main__":
    asyncio.run(main())
