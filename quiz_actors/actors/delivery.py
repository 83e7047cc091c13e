"""Telling an actor that may have stopped meanwhile."""

from __future__ import annotations

from typing import Any

import pykka
from pykka._envelope import Envelope  # noqa: PLC2701 - a mailbox holds pykka's envelopes

from quiz_actors.actors.pooled import LoopDispatcher, PooledActor, PooledInbox


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


class Fanout:
    """``tell_quietly`` to many actors, waking those that run on an event loop together.

    A room telling 2,000 connection actors would post 2,000 calls to the event
    loop, each through two locks. Here each message still goes into its actor's
    mailbox at once, in order with any other mail (so every actor sees its
    messages exactly as it would after a ``tell``), but the actors it found idle
    are handed to their ``LoopDispatcher`` in one call per ``wake``. Any other
    actor is told as usual. Until ``wake`` those actors' turns wait, so a
    ``Fanout`` is used as a context manager, which wakes them on the way out
    whatever happened (a reveal that fails half way must not leave the members
    it told stuck: nothing else would ever ask for their turns).
    """

    __slots__ = ("_idle", "_dispatcher")

    def __init__(self) -> None:
        self._idle: list[PooledActor] = []
        self._dispatcher: LoopDispatcher | None = None

    def tell(self, ref: pykka.ActorRef[Any], message: object) -> bool:
        inbox = ref.actor_inbox
        if type(inbox) is not PooledInbox:
            return tell_quietly(ref, message)
        actor = inbox.actor
        assert actor is not None, "a PooledActor sets its inbox's actor before anyone can tell it"
        dispatcher = actor.dispatcher
        if type(dispatcher) is not LoopDispatcher or (
            self._dispatcher is not None and dispatcher is not self._dispatcher
        ):
            return tell_quietly(ref, message)
        if ref.actor_stopped.is_set():
            return False  # as tell_quietly: an actor that stopped has nobody left to matter to
        if inbox.put_held(Envelope(message)):
            self._dispatcher = dispatcher
            self._idle.append(actor)
        return True

    def __enter__(self) -> Fanout:
        return self

    def __exit__(self, *_: object) -> None:
        self.wake()

    def wake(self) -> None:
        """Ask for the turns of every actor told since the last ``wake`` that was idle."""
        if self._idle:
            assert self._dispatcher is not None
            idle, self._idle = self._idle, []
            self._dispatcher.schedule_all(idle)
