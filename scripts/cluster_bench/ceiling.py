"""The cluster-wide save ceiling: more and more rooms answering as fast as they can
(load.py's play, fresh rooms each step) until the commits per second stop rising."""

from __future__ import annotations

import time
from typing import Any

from cluster_bench.harness import Bench
from cluster_bench.load import run_load

STEP_KEYS = (
    "rooms",
    "players",
    "acks",
    "stored",
    "distinct",
    "seconds",
    "commits_per_s",
    "answers_per_s",
    "cores_nodes",
    "cores_haproxy",
    "cores_clients",
    "nodes_waiting_for_cpu",
    "postgres_saves",
)
RISE = 1.10  # a step must beat the best so far by 10 % to count as still rising
PATIENCE = 2  # steps in a row that do not: one may be the shared machine's noise


async def run_ceiling(
    bench: Bench, steps: list[int], players: int, questions: int, max_s: float
) -> dict[str, Any]:
    began = time.monotonic()
    measured: list[dict[str, Any]] = []
    best: dict[str, Any] | None = None
    flat = 0
    for rooms in steps:
        step = await run_load(bench, rooms, players, questions)
        measured.append(
            {
                k: step[k]
                for k in ("rooms", "players", "acks", "stored", "distinct", "commits_per_s", "answers_per_s")
            }
        )
        if best is None or step["commits_per_s"] > best["commits_per_s"] * RISE:
            best, flat = step, 0
        else:
            flat += 1
        if flat >= PATIENCE or time.monotonic() - began > max_s:
            break  # no longer rising (or out of time): the best step so far is the ceiling
    assert best is not None
    return {
        "steps": measured,
        "commits_per_s": best["commits_per_s"],
        "answers_per_s": max(s["answers_per_s"] for s in measured),
        "at_rooms": best["rooms"],
        "cores_at_best": {
            k: best[k] for k in ("cores_nodes", "cores_haproxy", "cores_clients", "nodes_waiting_for_cpu")
        },
        "postgres_saves_at_best": best["postgres_saves"],
        "still_rising": flat == 0,  # the last step still rose: the ceiling is higher than this
        "lost_or_twice": sum(s["acks"] != s["stored"] or s["stored"] != s["distinct"] for s in measured),
    }
