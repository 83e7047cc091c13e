"""The room's timers: when each is armed, and whether it is still pending.

A room waits on seven things: the open question's deadline, its cleanup time,
the next ``answers_progress`` to the host, the end of a flood lock, the end of
a fan-out window, a retry of a failed save, and the end of the wait for the
players a restart left offline (``Game.await_rejoins``). Each timer only ``tell``s the
room a message from ``messages.py``; what the room then does is the business
of the other parts. This unit owns the bookkeeping every timer needs (armed
once, re-armed when the room's state moves it, forgotten when its message
arrives, cancelled when the room stops), so no handler juggles ``Timer``
objects.

Deadline, cleanup and flood-lock times are computed from event fields
(``rearm``), so they are armed again exactly after a restart.
"""

from __future__ import annotations

from typing import Any

from pykka import ActorRef

from quiz_actors.actors.delivery import tell_quietly
from quiz_actors.actors.messages import (
    CleanupDue,
    DeadlineDue,
    FloodLockDue,
    ProgressDue,
    RecoveryDue,
    RejoinGraceDue,
    ReleaseFanout,
)
from quiz_actors.clock import Clock, Timer
from quiz_actors.domain.room import FLOOD_LOCK, QUESTION, Room
from quiz_actors.settings import Settings

RECOVERY_RETRY_S = 2.0  # after a failed save, rebuild from the store this soon even if nobody writes

# A window's release tells every attached member: in a room of 10,000 filling at 500
# joins a second, the releases and the turns they set off were nearly half the
# server's samples. From 2,500 members the window grows with the room, 0.1 ms a
# member, up to a second: the fill's frames fell by 40 % (docs/benchmark.md, "The
# event loop, the burst's instrument and the 10,000-player lobby"), and a phone's
# lobby count moves once a second in a room that size.
FANOUT_WINDOW_S_PER_MEMBER = 0.0001
FANOUT_WINDOW_MAX_S = 1.0


def fanout_window(settings: Settings, attached: int) -> float:
    """Seconds a big room's membership changes wait to travel together: the
    ``--fanout-window-s`` setting, or longer in a room of thousands."""
    by_size = min(attached * FANOUT_WINDOW_S_PER_MEMBER, FANOUT_WINDOW_MAX_S)
    return max(settings.fanout_window_s, by_size)


def ms(seconds: float) -> int:
    return int(seconds * 1000)


def question_deadline(room: Room) -> int:
    """When the open question closes by itself."""
    current = room.current
    assert current is not None, "a question is open"
    deadline: int = current["deadline_at"]
    return deadline


class RoomTimers:
    def __init__(self, clock: Clock, settings: Settings, room: ActorRef[Any]) -> None:
        self._clock = clock
        self._settings = settings
        self._room = room  # the room actor the timers tell
        self._deadline: tuple[int, Timer] | None = None  # (question index, timer)
        self._cleanup: tuple[int, Timer] | None = None  # (due at, timer)
        self._progress: Timer | None = None
        self._flood_lift: Timer | None = None
        self._fanout: Timer | None = None
        self._rejoin_grace: tuple[int, Timer] | None = None  # (until, timer)

    # ------------------------------------------------------------- computed from the room

    def cleanup_due_at(self, room: Room) -> int | None:
        settings = self._settings
        return room.cleanup_due_at(
            ms(settings.ended_room_ttl_s),
            ms(settings.idle_room_ttl_s),
            unjoined_ttl_ms=ms(settings.unjoined_room_ttl_s),
        )

    def flood_lock_ends_at(self, room: Room) -> int:
        locked_at = room.locked_at
        assert locked_at is not None, "the room is locked"
        return locked_at + ms(self._settings.flood_lock_s)

    def rearm(self, room: Room) -> None:
        """Arm the timers the room's state now calls for (after every change)."""
        if room.phase == QUESTION:
            self._arm_deadline(room.question_index, question_deadline(room))
        if room.locked and room.lock_reason == FLOOD_LOCK and self._flood_lift is None:
            self._flood_lift = self._tell_at(self.flood_lock_ends_at(room), FloodLockDue())
        self._arm_cleanup(self.cleanup_due_at(room))

    def _arm_deadline(self, index: int, deadline: int) -> None:
        if self._deadline is None or self._deadline[0] != index:
            self._deadline = (index, self._tell_at(deadline, DeadlineDue(index)))

    def _arm_cleanup(self, due: int | None) -> None:
        if self._cleanup is not None and self._cleanup[0] != due:
            self._cleanup[1].cancel()
            self._cleanup = None
        if due is not None and self._cleanup is None:
            self._cleanup = (due, self._tell_at(due, CleanupDue()))

    # ------------------------------------------------------------- armed on demand

    def arm_progress(self) -> None:
        """At most one ``answers_progress`` per interval: armed unless already pending."""
        if self._progress is None:
            self._progress = self._tell_later(self._settings.progress_interval_s, ProgressDue())

    def arm_fanout(self, attached: int) -> None:
        """Deferred membership changes go out when the window closes (``fanout_window``)."""
        if self._fanout is None:
            self._fanout = self._tell_later(fanout_window(self._settings, attached), ReleaseFanout())

    def arm_rejoin_grace(self, index: int, until_ms: int) -> None:
        """Question ``index`` stops waiting for players to come back at ``until_ms``."""
        if self._rejoin_grace is not None:
            self._rejoin_grace[1].cancel()
        self._rejoin_grace = (until_ms, self._tell_at(until_ms, RejoinGraceDue(index, until_ms)))

    def arm_recovery(self) -> None:
        # Not tracked: each failed save asks for one more retry, and a retry that
        # finds the room loaded does nothing.
        self._tell_later(RECOVERY_RETRY_S, RecoveryDue())

    # ------------------------------------------------------------- a timer's message has arrived

    def deadline_fired(self, message: DeadlineDue) -> None:
        if self._deadline is not None and self._deadline[0] == message.index:
            self._deadline = None

    def cleanup_fired(self, _: CleanupDue) -> None:
        self._cleanup = None

    def progress_fired(self, _: ProgressDue) -> None:
        self._progress = None

    def flood_lift_fired(self, _: FloodLockDue) -> None:
        self._flood_lift = None

    def fanout_fired(self, _: ReleaseFanout) -> None:
        self._fanout = None

    def rejoin_grace_fired(self, message: RejoinGraceDue) -> None:
        # A cancelled timer's message may already have been in the mailbox: not this one.
        if self._rejoin_grace is not None and self._rejoin_grace[0] == message.until_ms:
            self._rejoin_grace = None

    def cancel_all(self) -> None:
        """The room is stopping: none of them may wake it."""
        for pair in (self._deadline, self._cleanup, self._rejoin_grace):
            if pair is not None:
                pair[1].cancel()
        for timer in (self._progress, self._flood_lift, self._fanout):
            if timer is not None:
                timer.cancel()

    # ------------------------------------------------------------- helpers

    def _tell_at(self, at_ms: int, message: object) -> Timer:
        return self._tell_later(max(0.0, (at_ms - self._clock.now_ms()) / 1000), message)

    def _tell_later(self, delay_s: float, message: object) -> Timer:
        room = self._room

        def tell() -> None:
            tell_quietly(room, message)

        return self._clock.call_later(delay_s, tell)
