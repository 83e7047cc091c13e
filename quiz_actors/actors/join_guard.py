"""Join limits per address: against join floods and guessing room codes.

Bot tools flood a game by joining hundreds of fake players from one machine,
and find games by trying codes until one answers. Per address, the hub allows
``joins_per_minute`` newcomers' join attempts, and after ``failures_per_minute``
different unknown codes it refuses newcomers from that address for ``lockout_ms``.

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
  live or not;
* the rate is for newcomers: a member coming back has a budget of its own,
  ``member_joins_per_minute`` for each seat, and does not count towards its
  address's. When a server restarts or a cluster node fails, every phone of a
  room rejoins within seconds: a school of 250 behind one address, which had
  just joined, would otherwise be refused for a minute (300 joins a minute). A
  seat outlives its membership (a player who left, a code a later room took), so
  the room lets a join on a seat in only as one of its members; anyone else is
  sent back to the hub to be counted as the newcomer it is (``JoinAsNewcomer``).
"""

from __future__ import annotations

from collections import defaultdict, deque
from dataclasses import dataclass

MINUTE_MS = 60_000
# What a client sent as a code is kept for a minute per address: at most this much of it.
CODE_KEPT = 16


WRONG_CODES = "wrong_codes"  # the address tried too many unknown codes: a lockout
TOO_MANY_JOINS = "too_many_joins"  # the address joined too often this minute
TOO_MANY_REJOINS = "too_many_rejoins"  # one member (its seat) came back too often this minute


@dataclass(frozen=True)
class JoinRefusal:
    """Why newcomers from an address are refused, and for how long (wire.join_refused)."""

    reason: str  # WRONG_CODES, TOO_MANY_JOINS or TOO_MANY_REJOINS
    message: str
    retry_after_s: int


def locked_out_for(seconds: int) -> JoinRefusal:
    seconds = max(1, seconds)
    return JoinRefusal(
        WRONG_CODES, f"Too many wrong room codes from your address; try again in {seconds} s", seconds
    )


class JoinGuard:
    def __init__(
        self,
        joins_per_minute: int,
        failures_per_minute: int,
        lockout_ms: int,
        member_joins_per_minute: int = 30,
    ):
        self.joins_per_minute = joins_per_minute
        self.failures_per_minute = failures_per_minute
        self.lockout_ms = lockout_ms
        self.member_joins_per_minute = member_joins_per_minute
        self.attempts: dict[str, deque[int]] = defaultdict(deque)  # newcomers' joins per address
        self.member_attempts: dict[str, deque[int]] = defaultdict(deque)  # joins per seat
        self.failures: dict[str, dict[str, int]] = defaultdict(dict)  # address -> {code: first tried}
        self.locked_until: dict[str, int] = {}

    def check(self, ip: str, now: int, seat: str | None = None) -> JoinRefusal | None:
        """Record a join attempt from ``ip``; why it is refused, or None. ``seat``: the
        join carries this valid seat of its member, which lets it past a lockout and
        counts it against the seat's own budget instead of the address's."""
        if seat is not None:
            attempts = within_last_minute(self.member_attempts[seat], now)
            if len(attempts) >= self.member_joins_per_minute:
                return JoinRefusal(
                    TOO_MANY_REJOINS, "You rejoined too often; wait a minute", _wait_s(attempts, now)
                )
            attempts.append(now)
            return None
        attempts = within_last_minute(self.attempts[ip], now)
        if len(attempts) >= self.joins_per_minute:
            return JoinRefusal(
                TOO_MANY_JOINS, "Too many joins from your address; wait a minute", _wait_s(attempts, now)
            )
        attempts.append(now)
        return self.locked_out(ip, now)

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
        for table in (self.attempts, self.member_attempts):
            for key in [key for key, times in table.items() if not within_last_minute(times, now)]:
                del table[key]
        for ip, codes in list(self.failures.items()):
            if all(now - at >= MINUTE_MS for at in codes.values()):
                del self.failures[ip]
        for ip in [ip for ip, until in self.locked_until.items() if until <= now]:
            del self.locked_until[ip]


def _wait_s(attempts: deque[int], now: int) -> int:
    """Seconds until the oldest of a minute's attempts is a minute old."""
    return max(1, (attempts[0] + MINUTE_MS - now + 999) // 1000)


def within_last_minute(times: deque[int], now: int) -> deque[int]:
    while times and now - times[0] >= MINUTE_MS:
        times.popleft()
    return times
