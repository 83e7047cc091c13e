"""Draining before a restart: the state ``/readyz`` and the shutdown read.

On SIGTERM the server keeps serving for a grace period while ``/readyz`` says
503, so a load balancer stops sending it new players; then it shuts down as on
any stop (rooms save what they decided), but closes sockets with 1012
("service restart"), which tells clients to reconnect at once.
"""

from __future__ import annotations

import logging

from aiohttp import WSCloseCode

from quiz_actors import metrics, protocol

log = logging.getLogger(__name__)


class Drain:
    def __init__(self) -> None:
        self.draining = False

    def begin(self) -> None:
        if not self.draining:
            self.draining = True
            metrics.DRAINING.set(1)

    def end(self) -> None:
        """Back to normal (a server object started again in the same process: tests)."""
        self.draining = False
        metrics.DRAINING.set(0)

    @property
    def close_code(self) -> int:
        """How sockets are closed at shutdown: 1012 after a drain, else 1001 (going away)."""
        return protocol.CLOSE_SERVICE_RESTART if self.draining else int(WSCloseCode.GOING_AWAY)

    @property
    def close_reason(self) -> str:
        return "drain" if self.draining else "shutdown"
