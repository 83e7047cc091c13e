"""Rooms and players served, and what answers cost: ``rooms`` rooms of ``players``
players each, every room playing ``questions`` questions at once, every player
answering as soon as a question is shown, or (``spread_s``) the room's players one
after another over that many seconds: the same answers at a rate that leaves the
machine's cores room to spare."""

from __future__ import annotations

import asyncio
import statistics
import time
from typing import Any

from cluster_bench.game import open_room, play, start
from cluster_bench.harness import Bench
from cluster_bench.save_waits import save_waits


async def run_load(
    bench: Bench, rooms: int, players: int, questions: int, spread_s: float = 0.0
) -> dict[str, Any]:
    opened = [await open_room(bench, players) for _ in range(rooms)]
    await asyncio.gather(*(start(room) for room in opened))
    cpu_before, proxy_before, waited_before = bench.node_cpu(), bench.proxy_cpu(), bench.node_run_queue_wait()
    commits_before, _ = await bench.saves()
    driver_before, started = time.process_time(), time.monotonic()
    async with save_waits(bench.database, bench.schema) as waits:
        acks = sum(await asyncio.gather(*(play(room, questions, spread_s) for room in opened)))
    seconds, driver_cpu = time.monotonic() - started, time.process_time() - driver_before
    commits_after, _ = await bench.saves()
    node_cpu, proxy_cpu = bench.node_cpu() - cpu_before, bench.proxy_cpu() - proxy_before
    waited = bench.node_run_queue_wait() - waited_before
    stored, distinct = bench.answers_stored([room.room_id for room in opened])
    await asyncio.gather(*(room.close() for room in opened))
    return {
        "rooms": rooms,
        "spread_s": spread_s,
        "players": rooms * players,
        "nodes_serving": len({room.owner for room in opened}),
        "redirects_per_join": statistics.mean(r for room in opened for r in room.redirects),
        "acks": acks,
        "stored": stored,
        "distinct": distinct,
        "seconds": round(seconds, 3),
        "commits": commits_after - commits_before,
        "commits_per_s": round((commits_after - commits_before) / seconds, 1),
        "answers_per_s": round(acks / seconds, 1),
        # Cores busy meanwhile: the nodes, HAProxy, this process (the clients); out of 2 here.
        "cores_nodes": round(node_cpu / seconds, 2),
        "cores_haproxy": round(proxy_cpu / seconds, 2),
        "cores_clients": round(driver_cpu / seconds, 2),
        # The nodes' threads waiting for a CPU, per second: above 0 they were held back.
        "nodes_waiting_for_cpu": round(waited / seconds, 2),
        "postgres_saves": waits,
        "cpu_per_1000": round(node_cpu / acks * 1000, 3) if acks else None,
        "haproxy_cpu_per_1000": round(proxy_cpu / acks * 1000, 3) if acks else None,
    }
