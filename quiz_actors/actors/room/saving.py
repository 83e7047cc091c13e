"""Storing what the room decided: the commit, the group commit's queue, snapshots.

Every change the room makes goes through ``commit``: the events the aggregate
has applied are saved, and only then may anyone hear of them. When a save
fails the aggregate is already ahead of the store, so ``commit`` tells the
clients waiting on it ``busy``, asks for a recovery retry and raises
``SaveFailed``; the actor then drops the aggregate and rebuilds it by replay.

Answers and joins are decided at once but saved together (``unsaved.py``):
they queue here, and one ``SaveDecided`` the room sends itself saves them all
in one commit (or, when nothing was queued behind the first, the end of its
own message does). A commit is also bounded: once ``group_commit_max`` decisions
wait, or the first of them has waited ``group_commit_max_wait_s``, the room
saves them without waiting for ``SaveDecided``. Otherwise, in a burst of
answers that all reached the mailbox before the first was decided, the first
answer would be acknowledged only after the last was decided: a class of 2,000
pressing at once heard ``answer_accepted`` all together, ~0.3 s late. Bounded,
the acknowledgements go out while later answers are still being decided.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any
from uuid import UUID

from pykka import ActorRef

from eventstore import EventStore
from eventstore.application import is_version_clash
from quiz_actors import views, wire
from quiz_actors.actors.messages import SaveDecided, Sender
from quiz_actors.actors.room.audience import Audience
from quiz_actors.actors.room.timers import RoomTimers
from quiz_actors.actors.unsaved import Unsaved
from quiz_actors.domain.room import Room
from quiz_actors.settings import Settings

log = logging.getLogger(__name__)


class SaveFailed(Exception):
    """A commit failed: those waiting on it heard ``busy``; the room must be rebuilt."""


class Saving:
    def __init__(
        self,
        room_id: UUID,
        store: EventStore,
        member_list: views.MemberList,
        audience: Audience,
        timers: RoomTimers,
        room: ActorRef[Any],
        settings: Settings,
    ) -> None:
        self._room_id = room_id
        self._store = store
        self._member_list = member_list
        self._audience = audience
        self._timers = timers
        self._room = room  # the room actor: it sends itself SaveDecided
        self.unsaved = Unsaved()  # decided answers and joins waiting for their commit
        self._save_requested = False  # a SaveDecided is on its way
        self._save_after_this_message = False  # nothing was queued: save once this message is handled
        self._max_decisions = max(1, settings.group_commit_max)
        self._max_wait_s = settings.group_commit_max_wait_s
        # When the first decision now waiting was made (time.monotonic), None if none waits.
        # A duration of the room's own work, so the process's clock, not the injected one.
        self._first_decided_at: float | None = None
        self._version_before_saves: int | None = None  # for snapshot_if_due

    # ------------------------------------------------------------- group commit

    def request_save(self) -> None:
        """An answer or a join was decided: it will be saved by SaveDecided, or sooner
        when the batch is full (``batch_due``).

        With nothing queued behind it, nothing could share its commit: it is saved as
        soon as its message is handled, without a SaveDecided. An answer that comes
        alone (a class of thirty, answering seconds apart) then costs one message to
        the room, not two (docs/benchmark.md, "A lone answer").
        """
        if self._first_decided_at is None:
            self._first_decided_at = time.monotonic()
        if self._save_requested or self._save_after_this_message:
            return
        if self._room.actor_inbox.empty():
            self._save_after_this_message = True
        else:
            self._save_requested = True
            self._room.tell(SaveDecided())  # behind whatever answers and joins are queued now

    def save_request_arrived(self, _: SaveDecided) -> None:
        self._save_requested = False

    def batch_due(self) -> bool:
        """Enough is decided, or the first decision has waited long enough, to save
        now rather than when SaveDecided arrives."""
        first = self._first_decided_at
        if first is None:
            return False
        unsaved = self.unsaved
        return (
            self._save_after_this_message
            or len(unsaved.answers) + len(unsaved.joiners) >= self._max_decisions
            or time.monotonic() - first >= self._max_wait_s
        )

    def take_unsaved(self) -> Unsaved:
        """What is decided and waits to be saved; the queue starts afresh. A SaveDecided
        still on its way saves whatever is decided after this."""
        unsaved, self.unsaved = self.unsaved, Unsaved()
        self._first_decided_at = None
        self._save_after_this_message = False
        return unsaved

    # ------------------------------------------------------------- commit

    def commit(self, room: Room, failed: Sequence[tuple[Sender, Any]] = ()) -> Sequence[object]:
        """Save the room's pending events and return them; on failure tell ``failed``
        busy and raise SaveFailed."""
        events = list(room.pending_events)
        if not events:
            return events
        if self._version_before_saves is None:
            self._version_before_saves = room.version - len(events)
        try:
            self._store.save(room)
            self._member_list.note(events)
        except Exception as e:
            if is_version_clash(e):
                # The store's version check: another writer stored this version first. In a
                # cluster that is the fencing a takeover relies on, not a fault: no traceback.
                log.warning(
                    "room %s: save refused: the store already holds this version of the room (another "
                    "node saved it first: in a cluster, it has taken the room over)",
                    self._room_id,
                )
            else:
                log.exception("room %s: save failed; the room is read from the store again", self._room_id)
            self._refuse(failed)
            raise SaveFailed() from None
        return events

    def _refuse(self, failed: Sequence[tuple[Sender, Any]]) -> None:
        # Decided answers and joins are always saved before any other commit, so
        # ``failed`` is everyone who is waiting on this one.
        for sender, ref in failed:
            self._audience.reply(sender, wire.save_failed(), ref)
        self._audience.send()
        # The aggregate already applied what was not stored: the actor throws it
        # away. The next message reloads it (or, a lease lost, stops the room); a
        # timer makes sure there is one.
        self._timers.arm_recovery()

    def snapshot_if_due(self, room: Room) -> None:
        """After the replies are out: a snapshot now and then keeps activation fast.

        Not while messages wait: a snapshot of a room of thousands is one JSON
        document of every member and answer (~10 ms at 2,000 members), and taken in
        the middle of an answer burst it delayed every answer behind it. The saves
        since the last snapshot are remembered, so it is taken once the mailbox is
        empty (one snapshot then, however many multiples of the interval passed).
        """
        if self._version_before_saves is None or not self._room.actor_inbox.empty():
            return
        before, self._version_before_saves = self._version_before_saves, None
        try:
            self._store.snapshot_if_due(room, before)
        except Exception:
            log.exception("room %s: snapshot failed (it is only an optimisation)", self._room_id)
