"""Room creation per address: against scripts that open rooms by the hundred.

Every room is an actor, a stream in the store and a code taken from the
directory, so creating them is limited where the hub creates them: at most
``per_minute`` ``create_room`` attempts per address in any minute. (Each socket
has its own, lifetime limit too, kept by its connection actor.) A school
behind one NAT is one address; ten rooms a minute is still more than its
teachers start.
"""

from __future__ import annotations

from collections import defaultdict, deque

from quiz_actors.actors.join_guard import within_last_minute


class RoomQuota:
    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self.attempts: dict[str, deque[int]] = defaultdict(deque)

    def check(self, ip: str, now: int) -> str | None:
        """Record a creation attempt; say why it is refused, or None."""
        attempts = within_last_minute(self.attempts[ip], now)
        if len(attempts) >= self.per_minute:
            return "Too many rooms created from your address; wait a minute"
        attempts.append(now)
        return None

    def forget_old(self, now: int) -> None:
        """Drop addresses with nothing recent, so the table does not grow forever."""
        for ip in [ip for ip, times in self.attempts.items() if not within_last_minute(times, now)]:
            del self.attempts[ip]
