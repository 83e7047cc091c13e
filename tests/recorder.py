"""An actor that stands for another (a connection actor, a room, the hub) in a test:
it records every message it is told, for the test to read in order."""

from __future__ import annotations

import queue
from typing import Any

import pykka


class Recorder(pykka.ThreadingActor):
    def __init__(self, received: queue.Queue[Any]) -> None:
        super().__init__()
        self.received = received

    def on_receive(self, message: Any) -> None:
        self.received.put(message)
