"""Join limits per address: against join floods and guessing room codes.

Bot tools flood a game by joining hundreds of fake players from one machine,
and find games by trying codes until one answers. Per address, the hub allows
``joins_per_minute`` join attempts, and after ``failures_per_minute`` different
unknown codes it refuses joins from that address for ``lockout_ms``.

A classroom behind one NAT shares an address, so the defaults are generous for
joins and strict only for unknown codes, and even then only for what looks like
guessing:

* a code is counted once a minute however often it is tried: the player page
  asks a typed code whether it wants a name and then joins with it (two tries
  of one typo), a phone presses Join again, and every phone that kept the code
  of a room that has since closed tries it again on each reconnect;
* a lockout keeps newcomers out, not members: a join that carries its member's
  seat in that room (tokens.SeatSigner) is let past it (a phone whose Wi-Fi
  dropped, the teacher's screen). The hub reads the seat before it looks the code
  up, so every other join is refused the same way, at once, whether its code is
  live or not. Every join counts towards the rate, members' too.
"""

from __future__ import annotations

from collections import defaultdict, deque
from dataclasses import dataclass

MINUTE_MS = 60_000
# What a client sent as a code is kept for a minute per address: at most this much of it.
CODE_KEPT = 16


WRONG_CODES = "wrong_codes"  # the address tried too many unknown codes: a lockout
TOO_MANY_JOINS = "too_many_joins"  # the address joined too often this minute


@dataclass(frozen=True)
class JoinRefusal:
    """Why newcomers from an address are refused, and for how long (wire.join_refused)."""

    reason: str  # WRONG_CODES or TOO_MANY_JOINS
    message: str
    retry_after_s: int


def locked_out_for(seconds: int) -> JoinRefusal:
    seconds = max(1, seconds)
    return JoinRefusal(
        WRONG_CODES, f"Too many wrong room codes from your address; try again in {seconds} s", seconds
    )


class JoinGuard:
    def __init__(self, joins_per_minute: int, failures_per_minute: int, lockout_ms: int):
        self.joins_per_minute = joins_per_minute
        self.failures_per_minute = failures_per_minute
        self.lockout_ms = lockout_ms
        self.attempts: dict[str, deque[int]] = defaultdict(deque)
        self.failures: dict[str, dict[str, int]] = defaultdict(dict)  # address -> {code: first tried}
        self.locked_until: dict[str, int] = {}

    def check(self, ip: str, now: int, member: bool = False) -> JoinRefusal | None:
        """Record a join attempt from ``ip``; why it is refused, or None. ``member``: the
        join carries its member's seat, which lets it past a lockout (not past the rate)."""
        attempts = within_last_minute(self.attempts[ip], now)
        if len(attempts) >= self.joins_per_minute:
            wait_s = max(1, (attempts[0] + MINUTE_MS - now + 999) // 1000)  # until the oldest is a minute old
            return JoinRefusal(TOO_MANY_JOINS, "Too many joins from your address; wait a minute", wait_s)
        attempts.append(now)
        return None if member else self.locked_out(ip, now)

    def locked_out(self, ip: str, now: int) -> JoinRefusal | None:
        """The address's lockout for guessing codes, if it has one now."""
        until = self.locked_until.get(ip, 0)
        return locked_out_for((until - now + 999) // 1000) if until > now else None

    def failed(self, ip: str, now: int, code: str) -> bool:
        """Record a join with an unknown code; True when it starts a lockout."""
        code, codes = code[:CODE_KEPT], self.failures[ip]
        for old in [c for c, at in codes.items() if now - at >= MINUTE_MS]:
            del codes[old]
        codes.setdefault(code, now)
        if len(codes) >= self.failures_per_minute:
            self.locked_until[ip] = now + self.lockout_ms
            codes.clear()
            return True
        return False

    def forget_old(self, now: int) -> None:
        """Drop addresses with nothing recent, so the tables do not grow forever."""
        for ip in [ip for ip, times in self.attempts.items() if not within_last_minute(times, now)]:
            del self.attempts[ip]
        for ip, codes in list(self.failures.items()):
            if all(now - at >= MINUTE_MS for at in codes.values()):
                del self.failures[ip]
        for ip in [ip for ip, until in self.locked_until.items() if until <= now]:
            del self.locked_until[ip]


def within_last_minute(times: deque[int], now: int) -> deque[int]:
    while times and now - times[0] >= MINUTE_MS:
        times.popleft()
    return times
