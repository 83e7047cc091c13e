#!/usr/bin/env python3
"""Benchmark: create_room around a cluster node thawed after SIGSTOP, and during sweeps.

    .venv/bin/python scripts/bench_thaw_create.py                     # 1 try, 100 idle rooms, ~90 s
    .venv/bin/python scripts/bench_thaw_create.py --tries 3 --load --idle-rooms 40 --watch-s 0

Three nodes and HAProxy (the cluster tests' harness, scripts/cluster_bench/harness.py:
lease TTL 2 s, loopback only). Each try:

  1. three rooms of --players players through HAProxy (round robin), their first
     question open; --idle-rooms more rooms on the first room's owner (the victim),
     3 players each having played 3 questions, then left;
  2. the victim is frozen (SIGSTOP) for 2 × the lease TTL while its room's clients
     rejoin elsewhere through HAProxy; two hosts connected to it directly send
     create_room while it is frozen; with --load the other rooms play meanwhile;
  3. SIGCONT, and at once: create_room by two hosts on the victim directly, one on
     each other node directly, three through HAProxy, and two through HAProxy with
     the victim's node hint once HAProxy routes to it again;
  4. with --watch-s: a create_room on each node directly, once a second for that
     long (at the default sweep interval, 60 s, every node sweeps once in 65 s: the
     victim's idle rooms are then rooms nobody serves, read by every node's sweep).

Prints each create_room → room_created time (seconds) as JSON lines, and for the
watch the slowest per node. Every wait has a timeout, every loop a count.
docs/benchmark.md ("A create_room after a thaw") has the numbers.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # cluster_bench
sys.path.insert(0, str(HERE.parent))  # tests (the cluster harness)

from cluster_bench.game import answer, join, open_room, play, quiz, start  # noqa: E402
from cluster_bench.harness import Bench, cluster, require_haproxy  # noqa: E402

from tests.client import QuizClient  # noqa: E402
from tests.cluster_nodes import LEASE_TTL_S, connect  # noqa: E402
from tests.conftest import create_room  # noqa: E402

REPLY_WAIT_S = 30.0  # a bound on one create_room, not a target
TRY_S = 600.0  # a bound on one try


async def timed_create(bench: Bench, label: str, url: str = "", host: QuizClient | None = None) -> dict:
    """One create_room on a new socket to ``url`` (or on ``host``, connected already): its time."""
    began = time.monotonic()
    try:
        host = host or await connect(bench.http, url)
        sent = time.monotonic()
        reply = await host.request(
            {"type": "create_room", "quiz_id": bench.quiz_id, "name": "H"}, "room_created", REPLY_WAIT_S
        )
        took = time.monotonic() - sent
        await host.close()
        node = host.ws._response.headers.get("X-Quiz-Node", "?") if host.ws is not None else "?"
        return {"via": label, "node": node, "reply": reply["type"], "s": round(took, 3)}
    except Exception as e:  # reported; the others go on
        return {"via": label, "error": repr(e)[:200], "s": round(time.monotonic() - began, 3)}


async def idle_rooms_on(bench: Bench, node: str, count: int, questions: int = 3) -> None:
    """Rooms created on ``node`` directly, 3 players each having played ``questions``
    questions, then left: rooms with a history, which nobody serves once ``node`` loses them."""
    for _ in range(count):
        host = await connect(bench.http, bench.nodes.ws(node))
        code, _ = await create_room(host, bench.quiz_id)
        players = [await connect(bench.http, bench.nodes.ws(node)) for _ in range(3)]
        for player in players:
            await player.request({"type": "join", "code": code, "name": "I" + player.user_id[:6]}, "state")
        await host.send({"type": "start"})
        for q in range(questions):
            if q:
                await host.send({"type": "next"})
            await asyncio.gather(*(p.expect("question_shown", index=q, timeout=30) for p in players))
            await asyncio.gather(*(answer(p, q) for p in players))
            await host.expect("question_closed", index=q, timeout=30)
        await asyncio.gather(*(c.close() for c in (host, *players)))


async def watch(bench: Bench, seconds: float) -> dict[str, Any]:
    """A create_room on each live node directly, once a second for ``seconds``: the slowest per node."""
    worst: dict[str, Any] = {}
    began = time.monotonic()
    for _ in range(int(seconds)):
        tick = time.monotonic()
        results = await asyncio.gather(*(timed_create(bench, n, bench.nodes.ws(n)) for n in bench.alive()))
        for r in results:
            if "error" in r or r["s"] > worst.get(r["via"], {}).get("s", -1):
                worst[r["via"]] = {**r, "at_s": round(tick - began, 1)}
        await asyncio.sleep(max(0.0, 1.0 - (time.monotonic() - tick)))
    return worst


async def one_try(bench: Bench, args: argparse.Namespace) -> list[dict]:
    await bench.revive()
    rooms = [await open_room(bench, args.players) for _ in range(3)]
    victim_room, victim = rooms[0], rooms[0].owner
    if args.idle_rooms:
        await idle_rooms_on(bench, victim, args.idle_rooms)
    await asyncio.gather(*(start(room) for room in rooms))
    half = len(victim_room.players) // 2
    await asyncio.gather(*(answer(c, 0) for c in victim_room.players[:half]))
    early = [await connect(bench.http, bench.nodes.ws(victim)) for _ in range(2)]
    late = [await connect(bench.http, bench.nodes.ws(victim)) for _ in range(2)]
    others = [name for name in bench.nodes.names if name != victim]
    load = None
    if args.load:
        load = asyncio.ensure_future(asyncio.gather(*(play(r, 8) for r in rooms[1:] if r.owner != victim)))

    bench.nodes.signal(victim, signal.SIGSTOP)
    frozen = time.monotonic()
    try:
        tasks = [asyncio.create_task(timed_create(bench, "victim, sent while frozen", host=h)) for h in early]
        back = asyncio.ensure_future(
            asyncio.gather(
                *(join(bench, victim_room.code, c.token, victim, frozen + 30) for c in victim_room.everyone)
            )
        )
        await asyncio.sleep(max(0.0, 2 * LEASE_TTL_S - (time.monotonic() - frozen)))
    finally:
        bench.nodes.signal(victim, signal.SIGCONT)
    thawed = time.monotonic()
    tasks += [asyncio.create_task(timed_create(bench, "victim direct, after thaw", host=h)) for h in late]
    tasks += [asyncio.create_task(timed_create(bench, f"{n} direct", bench.nodes.ws(n))) for n in others]
    tasks += [asyncio.create_task(timed_create(bench, "haproxy", bench.proxy.ws)) for _ in range(3)]
    await bench.proxy.wait_routing(bench.http, victim, 30)
    log(f"victim {victim}; HAProxy routes to it again {time.monotonic() - thawed:.2f} s after SIGCONT")
    hinted = f"{bench.proxy.ws}?node={victim}"
    tasks += [asyncio.create_task(timed_create(bench, "haproxy, victim's hint", hinted)) for _ in range(2)]
    results = list(await asyncio.gather(*tasks))
    rejoined = await back
    if load is not None:
        log(f"load: {sum(await load)} answers acknowledged in the other rooms")
    await asyncio.gather(*(c.close() for c, *_ in rejoined), *(room.close() for room in rooms))
    if args.watch_s:
        results.append({"watch, slowest per node": await watch(bench, args.watch_s)})
    return results


def log(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


async def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--store", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--tries", type=int, default=1)
    parser.add_argument("--players", type=int, default=20)
    parser.add_argument("--idle-rooms", type=int, default=100)
    parser.add_argument("--watch-s", type=float, default=65.0)
    parser.add_argument("--load", action="store_true", help="the other rooms play while the victim is frozen")
    parser.add_argument("--logs", type=Path, help="keep the nodes' logs here (default: a temporary folder)")
    args = parser.parse_args()
    require_haproxy()
    work = args.logs or Path(f"/tmp/bench-thaw-create-{int(time.time())}")
    work.mkdir(parents=True, exist_ok=True)
    async with cluster(3, args.store, work) as bench:
        bench.quiz_id = await bench.upload(quiz(10))
        for n in range(1, args.tries + 1):
            began = time.monotonic()
            results = await asyncio.wait_for(one_try(bench, args), TRY_S)
            log(f"try {n}/{args.tries}: {time.monotonic() - began:.1f} s (nodes' logs in {work})")
            for result in results:
                print(json.dumps(result))


if __name__ == "__main__":
    asyncio.run(main())
