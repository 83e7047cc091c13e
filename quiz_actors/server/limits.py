"""Limits the socket bridge enforces on the event loop, before any actor is bothered."""

from __future__ import annotations

from collections import Counter


class TokenBucket:
    """``rate`` messages a second on average, up to ``burst`` at once."""

    def __init__(self, rate: float, burst: int, now: float):
        self.rate = rate
        self.burst = burst
        self.tokens = float(burst)
        self.updated = now

    def reconfigure(self, rate: float, burst: int) -> None:
        self.tokens += burst - self.burst
        self.rate, self.burst = rate, burst

    def take(self, now: float) -> bool:
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


class AbuseMeter:
    """Counts refused messages in a sliding 10-second window."""

    WINDOW_S = 10.0

    def __init__(self, limit: int):
        self.limit = limit
        self.refused: list[float] = []

    def refuse(self, now: float) -> bool:
        """Record one refusal; True when the socket has gone past the limit."""
        self.refused = [t for t in self.refused if now - t < self.WINDOW_S]
        self.refused.append(now)
        return len(self.refused) > self.limit


class ConnectionCounter:
    """Open sockets in total and per address."""

    def __init__(self, max_total: int, max_per_ip: int):
        self.max_total = max_total
        self.max_per_ip = max_per_ip
        self.per_ip: Counter[str] = Counter()
        self.total = 0

    def admit(self, ip: str, per_address_limit: bool = True) -> str | None:
        """Count a new socket, or say why it is refused (``per_address_limit``
        False: only the total applies, as for a trusted proxy's address)."""
        if self.total >= self.max_total:
            return "too many connections"
        if per_address_limit and self.per_ip[ip] >= self.max_per_ip:
            return "too many connections from your address"
        self.per_ip[ip] += 1
        self.total += 1
        return None

    def release(self, ip: str) -> None:
        self.total -= 1
        self.per_ip[ip] -= 1
        if self.per_ip[ip] <= 0:
            del self.per_ip[ip]
