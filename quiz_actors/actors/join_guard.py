"""Join limits per address: against join floods and guessing room codes.

Bot tools flood a game by joining hundreds of fake players from one machine,
and find games by trying codes until one answers. Per address, the hub allows
``joins_per_minute`` join attempts, and after ``failures_per_minute`` attempts
with an unknown code it refuses every join from that address for
``lockout_ms``. A classroom behind one NAT shares an address, so the defaults
are generous for joins and strict only for unknown codes.
"""

from __future__ import annotations

from collections import defaultdict, deque

MINUTE_MS = 60_000


class JoinGuard:
    def __init__(self, joins_per_minute: int, failures_per_minute: int, lockout_ms: int):
        self.joins_per_minute = joins_per_minute
        self.failures_per_minute = failures_per_minute
        self.lockout_ms = lockout_ms
        self.attempts: dict[str, deque[int]] = defaultdict(deque)
        self.failures: dict[str, deque[int]] = defaultdict(deque)
        self.locked_until: dict[str, int] = {}

    def check(self, ip: str, now: int) -> str | None:
        """Record a join attempt; say why it is refused, or None."""
        if self.locked_until.get(ip, 0) > now:
            seconds = (self.locked_until[ip] - now + 999) // 1000
            return f"Too many wrong room codes from your address; try again in {seconds} s"
        attempts = within_last_minute(self.attempts[ip], now)
        if len(attempts) >= self.joins_per_minute:
            return "Too many joins from your address; wait a minute"
        attempts.append(now)
        return None

    def failed(self, ip: str, now: int) -> bool:
        """Record a join with an unknown code; True when it starts a lockout."""
        failures = within_last_minute(self.failures[ip], now)
        failures.append(now)
        if len(failures) >= self.failures_per_minute:
            self.locked_until[ip] = now + self.lockout_ms
            failures.clear()
            return True
        return False

    def forget_old(self, now: int) -> None:
        """Drop addresses with nothing recent, so the tables do not grow forever."""
        for table in (self.attempts, self.failures):
            for ip in [ip for ip, times in table.items() if not within_last_minute(times, now)]:
                del table[ip]
        for ip in [ip for ip, until in self.locked_until.items() if until <= now]:
            del self.locked_until[ip]


def within_last_minute(times: deque[int], now: int) -> deque[int]:
    while times and now - times[0] >= MINUTE_MS:
        times.popleft()
    return times
