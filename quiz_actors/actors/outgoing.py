"""What a room sends, collected while it handles a message: one ``Deliver`` per connection."""

from __future__ import annotations

import bisect
import time
from collections import Counter
from collections.abc import Iterable

from quiz_actors import metrics, protocol, views
from quiz_actors.actors.delivery import Fanout
from quiz_actors.actors.messages import Deliver, Sender
from quiz_actors.protocol import Batch


class Outgoing:
    """Frames collected while handling messages, one ``Deliver`` per connection.

    ``add`` frames go out when the current message is handled, or sooner, a
    slice of ``SEND_EVERY`` connections at a time: the event loop starts writing
    a broadcast to thousands (its socket writes run outside the GIL) while the
    room still builds the rest, instead of after it. ``defer``red
    broadcasts (membership changes in a big lobby) wait for ``release_deferred``,
    so that a burst of joins reaches each member as one delivery instead of one
    per join. Deferring costs the same for 10 members or 5,000: a deferred
    broadcast is kept once, with the attach number of the newest member it is
    for, and at release the members share one batch of frames per starting point.
    A member's deferred frames always go out before anything added for it later.

    A member who asked for membership summaries (``summarised``: a player whose
    join said ``"membership":"summary"``) gets no deferred frame: wherever the
    others get theirs, it gets one ``members_changed`` carrying the seq and the
    member count of the newest deferred change, the same text for every such
    member. The changes it stands for are exactly the deferred ones it would
    have been sent, so its next seq is the next change's.

    A round (from the first ``add`` after a ``send`` to the next ``send``, or one
    ``release_deferred``) that reaches two or more connections is timed for the
    fan-out metric: it includes building what each member gets.
    """

    SEND_EVERY = 250  # connections

    def __init__(self, attached: dict[str, Sender], room_id: str) -> None:
        self.attached = attached  # the room actor's: user id -> current connection
        self.room_id = room_id  # on every Deliver: a connection drops frames of a room it has left
        self.attach_no: dict[str, int] = {}  # user id -> when it attached (increasing)
        self.summarised: set[str] = set()  # attached members who get membership summaries
        self._attach_counter = 0
        self.now: dict[int, tuple[Sender, list[str]]] = {}
        self._later: list[tuple[str, str | None]] = []  # (text, user it is not for)
        self._later_limit: list[int] = []  # newest attach number each deferred text is for
        self._later_change: list[tuple[int, int]] = []  # (seq, member count) of each deferred text
        self._summary: tuple[int, str] | None = None  # (deferred texts it covers, members_changed)
        self._served: dict[str, int] = {}  # user id -> deferred texts it already has
        self._round_started: float | None = None  # perf_counter of the round's first add
        self._round_size = 0  # connections the round has handed frames to so far

    def attached_now(self, user_id: str, summaries: bool = False) -> None:
        self._attach_counter += 1
        self.attach_no[user_id] = self._attach_counter
        if summaries:
            self.summarised.add(user_id)
        else:
            self.summarised.discard(user_id)

    def detached(self, user_id: str) -> None:
        self.summarised.discard(user_id)

    def add(self, sender: Sender, text: str) -> None:
        if self._round_started is None:
            self._round_started = time.perf_counter()
        entry = self.now.get(sender.conn_id)
        if entry is None:
            if len(self.now) >= self.SEND_EVERY:
                self._send_slice()  # a connection's frames stay in order: each tell queues behind the last
            entry = self.now[sender.conn_id] = (sender, [])
        if self._later:
            entry[1].extend(self._deferred_for(sender.user_id))
            self._served[sender.user_id] = len(self._later)
        entry[1].append(text)

    def to_all(self, text: str, but: str | None = None) -> None:
        """``add`` ``text`` for every attached member but ``but`` (a broadcast).

        A member with nothing collected yet is told at once, and every such
        member is handed the very same ``Deliver``: no per-member list, key or
        message, and the event loop starts writing while the room still
        tells the rest. A member with frames collected gets the text after
        them, as ``add`` does; one still owed deferred frames takes the path of
        ``add`` too, which puts those first.
        """
        if self._later:
            for user_id, sender in self.attached.items():
                if user_id != but:
                    self.add(sender, text)
            return
        if self._round_started is None:
            self._round_started = time.perf_counter()
        shared = Deliver(Batch(text), self.room_id)
        now, told, every = self.now, 0, self.SEND_EVERY
        with Fanout() as fanout:
            tell = fanout.tell
            for user_id, sender in self.attached.items():
                if user_id == but:
                    continue
                entry = now.get(sender.conn_id)
                if entry is None:
                    tell(sender.conn, shared)
                    told += 1
                    if told % every == 0:
                        fanout.wake()  # the event loop starts writing while the room tells the rest
                else:
                    entry[1].append(text)
        self._round_size += told

    def to_each(self, own: Iterable[tuple[Sender, tuple[str, ...]]], types: tuple[str, ...]) -> None:
        """For each (member's current connection, texts): ``add`` the texts (a reveal's
        own messages, built as this walks ``own``), told at once when nothing else is
        collected for that connection, as ``to_all`` does. ``types``: the message type
        of each text, the same for every member, so that the metrics' count is worked
        out once rather than read from every member's texts (~0.8 µs each)."""
        if self._round_started is None:
            self._round_started = time.perf_counter()
        room_id, now, told, every = self.room_id, self.now, 0, self.SEND_EVERY
        counts = tuple(Counter(types).items())
        with Fanout() as fanout:
            tell = fanout.tell
            for sender, texts in own:
                if self._later or sender.conn_id in now:
                    for text in texts:
                        self.add(sender, text)
                    continue
                tell(sender.conn, Deliver(Batch(*texts, types=counts), room_id))
                told += 1
                if told % every == 0:
                    fanout.wake()
        self._round_size += told

    def defer(self, text: str, but: str | None, seq: int, members: int) -> None:
        """Hold a membership change (``text``, change ``seq``, after which the room has
        ``members``) until ``release_deferred``."""
        self._later.append((text, but))
        self._later_limit.append(self._attach_counter)
        self._later_change.append((seq, members))

    def _summary_text(self) -> str:
        """The ``members_changed`` that stands for every change deferred so far."""
        summary = self._summary
        if summary is None or summary[0] != len(self._later):
            seq, members = self._later_change[-1]
            summary = self._summary = (len(self._later), protocol.encode(views.members_changed(seq, members)))
        return summary[1]

    def _start_for(self, user_id: str) -> int:
        # Texts deferred before this member attached are in its state already.
        first_meant = bisect.bisect_left(self._later_limit, self.attach_no.get(user_id, 0))
        return max(first_meant, self._served.get(user_id, 0))

    def _deferred_for(self, user_id: str) -> list[str]:
        start = self._start_for(user_id)
        if user_id in self.summarised:
            return [self._summary_text()] if start < len(self._later) else []
        return [text for text, but in self._later[start:] if but != user_id]

    def release_deferred(self) -> None:
        if not self._later:
            return
        self.send()
        started, reached = time.perf_counter(), 0
        excluded = {but for _, but in self._later if but is not None}
        shared: dict[int, Batch] = {}
        summarised, summary = self.summarised, None
        with Fanout() as fanout:
            for user_id, sender in self.attached.items():
                start = self._start_for(user_id)
                if start >= len(self._later):
                    continue
                batch: Batch | None
                if user_id in summarised:
                    if summary is None:
                        summary = Batch(self._summary_text())
                    batch = summary
                elif user_id in excluded:
                    batch = Batch(*self._deferred_for(user_id))
                else:
                    batch = shared.get(start)
                    if batch is None:
                        batch = shared[start] = Batch(*(text for text, _ in self._later[start:]))
                if batch:
                    fanout.tell(sender.conn, Deliver(batch, self.room_id))
                    reached += 1
                    if reached % self.SEND_EVERY == 0:
                        fanout.wake()
        self._later.clear()
        self._later_limit.clear()
        self._later_change.clear()
        self._summary = None
        self._served.clear()
        if reached >= 2:
            metrics.FANOUT_SECONDS.observe(time.perf_counter() - started)

    def send(self) -> None:
        """Hand out everything added, ending the round."""
        self._send_slice()
        started, self._round_started = self._round_started, None
        reached, self._round_size = self._round_size, 0
        if started is not None and reached >= 2:
            metrics.FANOUT_SECONDS.observe(time.perf_counter() - started)

    def _send_slice(self) -> None:
        # Connections given the very same texts (a broadcast) share one Batch, so
        # its frame is built once. Keyed by identity: hashing a big state is not free.
        shared: dict[tuple[int, ...], Batch] = {}
        with Fanout() as fanout:
            for sender, texts in self.now.values():
                key = tuple(map(id, texts))
                batch = shared.get(key)
                if batch is None:
                    batch = shared[key] = Batch(*texts)
                fanout.tell(sender.conn, Deliver(batch, self._room_id_for(sender)))
        self._round_size += len(self.now)
        self.now.clear()

    def _room_id_for(self, sender: Sender) -> str | None:
        """The room id a connection drops frames by when it has moved to another room.
        None for a connection not attached here (a join refused, say): it may be
        attached to another room, and this reply is still for it."""
        current = self.attached.get(sender.user_id)
        return self.room_id if current is not None and current.conn_id == sender.conn_id else None
