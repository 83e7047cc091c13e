"""Faults of a room's owner in the middle of a question: kill -9, SIGSTOP (for twice
the lease), SIGTERM (drain). Each run: the nodes that are down are started again,
a room of ``players`` opens its first question through HAProxy, half of them
answer, the owner is faulted, and every client rejoins through HAProxy with the
owner's hint, as the web client does. Reported: the time from the signal until
every client is back in the same question with the same deadline, and the
answers acknowledged against those in the store."""

from __future__ import annotations

import asyncio
import signal
import time
from typing import Any

from cluster_bench.game import answer, join, open_room, start
from cluster_bench.harness import Bench
from tests.cluster_nodes import LEASE_TTL_S

SIGNALS = {"kill": signal.SIGKILL, "stop": signal.SIGSTOP, "drain": signal.SIGTERM}
BACK_WITHIN_S = 60  # a bound on a hung run, not a target


async def fault_run(bench: Bench, kind: str, players: int) -> dict[str, Any]:
    restarted = await bench.revive()
    room = await open_room(bench, players)
    await start(room)
    deadline_ms = room.host.of_type("question_shown")[0]["deadline_ms"]
    half = len(room.players) // 2
    acked = sum(await asyncio.gather(*(answer(c, 0) for c in room.players[:half])))

    owner = room.owner
    process = bench.nodes.processes[owner]
    bench.nodes.signal(owner, SIGNALS[kind])
    faulted = time.monotonic()
    try:
        back = await asyncio.gather(
            *(join(bench, room.code, c.token, owner, faulted + BACK_WITHIN_S) for c in room.everyone)
        )
        took = time.monotonic() - faulted
        if kind == "stop":  # frozen for twice the lease, as in the issue; thawed, it stops the room
            await asyncio.sleep(max(0.0, 2 * LEASE_TTL_S - (time.monotonic() - faulted)))
    finally:
        if kind == "stop":
            bench.nodes.signal(owner, signal.SIGCONT)
    if kind == "drain":
        await asyncio.wait_for(asyncio.to_thread(process.wait), BACK_WITHIN_S)

    same_question = all(
        state["room"]["question"]["index"] == 0 and state["room"]["question"]["deadline_ms"] == deadline_ms
        for _, state, _, _ in back
    )
    new_owners = sorted({node for *_, node in back})
    clients = [client for client, *_ in back]  # clients[0] is the host
    acked += sum(await asyncio.gather(*(answer(c, 0) for c in clients[1 + half :])))
    stored, distinct = bench.answers_stored([room.room_id])
    await asyncio.gather(*(client.close() for client in clients))
    return {
        "kind": kind,
        "faulted": owner,
        "new_owner": ",".join(new_owners),
        "moved": owner not in new_owners and len(new_owners) == 1,
        "restarted_before": restarted,
        "clients": len(back),
        "back_s": round(took, 3),
        "same_question": same_question,
        "acked": acked,
        "stored": stored,
        "distinct": distinct,
        "lost": max(0, acked - distinct),
        "twice": stored - distinct,
    }
