"""Telling an actor that may have stopped meanwhile."""

from __future__ import annotations

from typing import Any

import pykka


def tell_quietly(ref: pykka.ActorRef[Any], message: object) -> bool:
    """Tell ``ref``; a connection that closed or a room that stopped is not an error.

    A socket can close at any moment, and a timer can fire after its room
    stopped: the message has nobody left to matter to.
    """
    try:
        ref.tell(message)
        return True
    except pykka.ActorDeadError:
        return False
