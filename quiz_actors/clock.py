"""Time, injected. Every timer, heartbeat and cleanup in the server reads this.

``SystemClock`` runs callbacks on one scheduler thread. ``ManualClock`` only
moves when a test calls ``advance``, which runs every callback that fell due, in
order, on the caller's thread: tests of the 90-second offline rule and the
5-minute cleanup then take milliseconds. Callbacks must be quick and must not
block: in practice they ``tell`` an actor.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections.abc import Callable
from typing import Protocol


class Timer:
    def __init__(self) -> None:
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class Clock(Protocol):
    def now_ms(self) -> int: ...

    def call_later(self, delay_s: float, callback: Callable[[], object]) -> Timer: ...

    def stop(self) -> None: ...


class _Schedule:
    """A heap of (due, order, timer, callback)."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Timer, Callable[[], object]]] = []
        self._order = itertools.count()

    def push(self, due: float, callback: Callable[[], object]) -> Timer:
        timer = Timer()
        heapq.heappush(self._heap, (due, next(self._order), timer, callback))
        return timer

    def next_due(self) -> float | None:
        while self._heap and self._heap[0][2].cancelled:
            heapq.heappop(self._heap)
        return self._heap[0][0] if self._heap else None

    def pop_due(self, now: float) -> list[Callable[[], object]]:
        due = []
        while self._heap and self._heap[0][0] <= now:
            _, _, timer, callback = heapq.heappop(self._heap)
            if not timer.cancelled:
                due.append(callback)
        return due


class SystemClock:
    def __init__(self) -> None:
        self._schedule = _Schedule()
        self._wake = threading.Condition()
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name="clock", daemon=True)
        self._thread.start()

    def now_ms(self) -> int:
        return int(time.time() * 1000)

    def call_later(self, delay_s: float, callback: Callable[[], object]) -> Timer:
        with self._wake:
            timer = self._schedule.push(time.monotonic() + max(0.0, delay_s), callback)
            self._wake.notify()
        return timer

    def stop(self) -> None:
        with self._wake:
            self._stopped = True
            self._wake.notify()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while True:
            with self._wake:
                if self._stopped:
                    return
                due = self._schedule.next_due()
                now = time.monotonic()
                if due is None or due > now:
                    self._wake.wait(None if due is None else due - now)
                    continue
                callbacks = self._schedule.pop_due(now)
            for callback in callbacks:
                try:
                    callback()
                except Exception:  # a failing callback must not stop every other timer
                    import logging

                    logging.getLogger(__name__).exception("timer callback failed")


class ManualClock:
    """A clock for tests: time stands still until ``advance``."""

    def __init__(self, start_ms: int = 1_764_000_000_000) -> None:
        self._now_ms = start_ms
        self._schedule = _Schedule()
        self._lock = threading.RLock()

    def now_ms(self) -> int:
        with self._lock:
            return self._now_ms

    def call_later(self, delay_s: float, callback: Callable[[], object]) -> Timer:
        with self._lock:
            return self._schedule.push(self._now_ms + max(0.0, delay_s) * 1000, callback)

    def advance(self, seconds: float) -> None:
        """Move time forward, running what falls due at its own moment."""
        with self._lock:
            target = self._now_ms + seconds * 1000
        while True:
            with self._lock:
                due = self._schedule.next_due()
                if due is None or due > target:
                    self._now_ms = int(target)
                    return
                self._now_ms = max(self._now_ms, int(due))
                callbacks = self._schedule.pop_due(due)
            for callback in callbacks:
                callback()

    def stop(self) -> None:
        pass
