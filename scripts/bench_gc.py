"""The garbage collector's pauses, timed through ``gc.callbacks``: for the server
probe (scripts/bench_probe.py) and the load clients (scripts/bench_clients.py).

A collection stops every thread of its process. In the server it shows up as a
slow broadcast; in a load client, as a late receipt the benchmark would blame
on the server. So both are timed and reported, and the load clients collect as
rarely as the server does (``quiz_actors.__main__.GC_THRESHOLDS``).
"""

from __future__ import annotations

import gc
import time


class GcPauses:
    def __init__(self) -> None:
        self._started: float | None = None
        self.by_generation = {str(g): {"count": 0, "total_s": 0.0, "max_s": 0.0} for g in range(3)}

    def install(self) -> None:
        gc.callbacks.append(self._on_gc)

    def _on_gc(self, phase: str, info: dict) -> None:
        # Collections run with the GIL held, one at a time: a single start time is enough.
        if phase == "start":
            self._started = time.perf_counter()
        elif self._started is not None:
            elapsed = time.perf_counter() - self._started
            entry = self.by_generation[str(info["generation"])]
            entry["count"] += 1
            entry["total_s"] += elapsed
            entry["max_s"] = max(entry["max_s"], elapsed)

    def snapshot(self) -> dict:
        return {generation: dict(entry) for generation, entry in self.by_generation.items()}
