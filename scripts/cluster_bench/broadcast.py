"""What HAProxy adds to a broadcast: one room, the same players, connected through
HAProxy and then straight to the room's owner, taking turns; each broadcast is the
host's ``next`` until the last player has ``question_shown``."""

from __future__ import annotations

import asyncio
import statistics
import time
from typing import Any

from cluster_bench.game import WAIT_S, Room, open_room, quiz, start
from cluster_bench.harness import Bench
from tests.client import QuizClient
from tests.cluster_nodes import enter

WAYS = ("haproxy", "direct")


async def reconnect(bench: Bench, room: Room, way: str) -> None:
    """The same players (same tokens) on new sockets, through HAProxy or to the owner."""
    tokens = [client.token for client in room.players]
    await asyncio.gather(*(client.close() for client in room.players))
    entry = bench.proxy.ws if way == "haproxy" else bench.nodes.ws(room.owner)
    nodes = None if way == "haproxy" else bench.nodes
    joined = await asyncio.gather(
        *(enter(bench.http, entry, room.code, f"P{n}", token, nodes=nodes) for n, token in enumerate(tokens))
    )
    assert {node for *_, node in joined} == {room.owner}, "a player is not on the room's owner"
    room.players = [client for client, *_ in joined]


async def broadcast(room: Room, question: int, players: list[QuizClient]) -> float:
    """Close the question, then time the next one's question_shown to the last player."""
    await room.host.send({"type": "next"})
    everyone = [room.host, *players]  # the host reads too: it answers the server's pings
    await asyncio.gather(*(c.expect("question_closed", index=question, timeout=WAIT_S) for c in everyone))
    sent = time.monotonic()
    await room.host.send({"type": "next"})
    await asyncio.gather(*(c.expect("question_shown", index=question + 1, timeout=WAIT_S) for c in players))
    return time.monotonic() - sent


async def run_broadcast(bench: Bench, players: int, rounds: int, per_round: int) -> dict[str, Any]:
    saved_quiz = bench.quiz_id
    bench.quiz_id = await bench.upload(quiz(rounds * len(WAYS) * per_round + 1))
    try:
        room = await open_room(bench, players)  # through HAProxy
    finally:
        bench.quiz_id = saved_quiz
    await start(room)
    times: dict[str, list[float]] = {way: [] for way in WAYS}
    node_cpu = dict.fromkeys(WAYS, 0.0)
    proxy_cpu = dict.fromkeys(WAYS, 0.0)
    question, current = 0, "haproxy"
    for _ in range(rounds):
        for way in WAYS:  # taking turns, so a change in the machine's load hits both
            if way != current:
                await reconnect(bench, room, way)
                await asyncio.gather(*(c.drain(0.1) for c in room.players))
                current = way
            cpu_before, proxy_before = bench.node_cpu(), bench.proxy_cpu()
            for _ in range(per_round):
                times[way].append(await broadcast(room, question, room.players))
                question += 1
            node_cpu[way] += bench.node_cpu() - cpu_before
            proxy_cpu[way] += bench.proxy_cpu() - proxy_before
    await room.close()
    out: dict[str, Any] = {"players": players, "broadcasts_each": rounds * per_round}
    for way in WAYS:
        out[way] = {
            "median_ms": round(statistics.median(times[way]) * 1000, 2),
            "worst_ms": round(max(times[way]) * 1000, 2),
            # CPU per broadcast (and the close before it), from /proc: the machine's load does not move it
            "cpu_ms": round(node_cpu[way] / len(times[way]) * 1000, 2),
            "haproxy_cpu_ms": round(proxy_cpu[way] / len(times[way]) * 1000, 2),
        }
    out["added_pct"] = round((out["haproxy"]["median_ms"] / out["direct"]["median_ms"] - 1) * 100, 1)
    through, direct = out["haproxy"], out["direct"]
    out["added_cpu_pct"] = (
        round(((through["cpu_ms"] + through["haproxy_cpu_ms"]) / direct["cpu_ms"] - 1) * 100, 1)
        if direct["cpu_ms"]
        else None
    )
    return out
