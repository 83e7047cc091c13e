"""The room actor: the single writer of one room.

For every message it decides (the Room aggregate's command methods check the
rules and trigger events), saves the new events, and only after the save
commits does it acknowledge and broadcast. If a save fails, the in-memory
aggregate is already ahead of the store, so it is thrown away and rebuilt by
replay, and the clients whose commands were lost hear ``busy``.

Answers and joins are group-committed (``unsaved.py``): each is decided at
once, but saved by a ``SaveDecided`` message the actor sends itself, so every
answer and join already queued behind the first is saved in the same commit.
Any other message first saves what is waiting, so nothing is ever decided on
top of events that are not stored.

Timers (question deadlines, room cleanup, progress coalescing) come from the
injected clock and only ``tell`` this actor; their times are computed from
event fields, so they are re-armed exactly after a restart.
"""

from __future__ import annotations

import logging
from collections import deque
from typing import Any
from uuid import UUID

import pykka

from eventstore import EventStore
from quiz_actors import protocol, views
from quiz_actors.actors.delivery import tell_quietly
from quiz_actors.actors.messages import (
    AttachedToRoom,
    CleanupDue,
    CloseSocket,
    DeadlineDue,
    DetachedFromRoom,
    FloodLockDue,
    HostRoomCreated,
    Join,
    MemberDisconnected,
    ProgressDue,
    RecoveryDue,
    ReleaseFanout,
    RoomCommand,
    RoomWasClosed,
    SaveDecided,
    Sender,
)
from quiz_actors.actors.outgoing import Outgoing
from quiz_actors.actors.unsaved import Broadcast, Unsaved
from quiz_actors.clock import Clock, Timer
from quiz_actors.domain.errors import RoomError
from quiz_actors.domain.room import CLOSED, ENDED, FLOOD_LOCK, QUESTION, Room
from quiz_actors.settings import Settings

log = logging.getLogger(__name__)

HOST_COMMANDS = ("start", "next", "end", "lock", "unlock", "kick")
JOIN_BURST_WINDOW_MS = 10_000
RECOVERY_RETRY_S = 2.0  # after a failed save, rebuild from the store this soon even if nobody writes
BUSY = RoomError("busy", "The server could not store that; nothing changed, try again")


def _ref_of(message: object) -> Any:
    inner = getattr(message, "message", None)
    return inner.get("ref") if isinstance(inner, dict) else None


class SaveFailed(Exception):
    pass


class RoomActor(pykka.ThreadingActor):
    def __init__(
        self,
        room_id: UUID,
        store: EventStore,
        clock: Clock,
        settings: Settings,
        hub: pykka.ActorRef,
        created: Room | None = None,
    ):
        super().__init__()
        self.room_id = room_id
        self.store = store
        self.clock = clock
        self.settings = settings
        self.hub = hub
        self.room: Room | None = created
        self.attached: dict[str, Sender] = {}  # user id -> its current connection
        self.out = Outgoing(self.attached, str(room_id))
        self.unsaved = Unsaved()  # decided answers and joins waiting for SaveDecided
        self.save_requested = False
        self.deadline_timer: tuple[int, Timer] | None = None
        self.cleanup_timer: tuple[int, Timer] | None = None
        self.progress_timer: Timer | None = None
        self.progress_sent: tuple[int, int] | None = None
        self.recent_joins: deque[int] = deque()  # times of the latest new members
        self.flood_timer: Timer | None = None
        self.fanout_timer: Timer | None = None
        self._version_before_saves: int | None = None  # for snapshot_if_due
        self.member_list = views.MemberList()

    # ------------------------------------------------------------- life cycle

    def on_start(self) -> None:
        if self.room is None:
            self._recover()
        else:
            self._after_change()

    def _recover(self) -> bool:
        """(Re)build the room by replay; False while the store cannot be read."""
        self.member_list.forget()
        try:
            self.room = self._replay()
        except Exception:
            log.exception("room %s: cannot load from the store; will retry on the next message", self.room_id)
            self.room = None
            return False
        try:
            # Members the store shows online but who have no socket here were left
            # so by a stop or a crash (on activation, that is everyone).
            self._mark_detached_offline()
            self._close_question_past_deadline()
        except SaveFailed:
            return False
        if self.room.phase == CLOSED:
            self.hub.tell(RoomWasClosed(str(self.room_id), self.room.code))
        # After a failed save, members still here may have missed changes: a fresh
        # state puts each of them back in step.
        for user_id, sender in self.attached.items():
            self.out.add(sender, views.state(self.room, user_id, self.member_list))
        self._after_change()
        return True

    def _close_question_past_deadline(self) -> None:
        """A deadline that passed while the server was down closes the question now,
        before anyone who is waiting to rejoin gets a state."""
        room = self.room
        if room.phase == QUESTION and self.clock.now_ms() >= room.current["deadline_at"]:
            room.close_question("timeout", self.clock.now_ms())
            self._commit()

    def on_stop(self) -> None:
        if self.room is not None:
            try:
                self._save_decided()  # decided answers and joins are stored and acknowledged before we go
            except SaveFailed:
                pass
        for timer in (self.deadline_timer, self.cleanup_timer):
            if timer:
                timer[1].cancel()
        self.out.release_deferred()
        self.out.send()
        for timer in (self.progress_timer, self.flood_timer, self.fanout_timer):
            if timer:
                timer.cancel()

    def _replay(self) -> Room:
        room = self.store.load(self.room_id)
        if room is None:
            raise LookupError(f"room {self.room_id} is not in the store")
        return room

    # ------------------------------------------------------------- dispatch

    def on_receive(self, message: object) -> None:
        self._note_timer_fired(message)
        try:
            if self.room is None and not self._recover():
                self._refuse_busy(message)  # the store is unreachable: acknowledge nothing
                return
            if not self._is_group_committed(message):
                try:
                    self._save_decided()  # what is decided is saved before anything else
                except SaveFailed:
                    if not self._recover():
                        self._refuse_busy(message)
                        return
            self._dispatch(message)
        except SaveFailed:
            pass  # already reported to the clients concerned; recovery is scheduled
        except Exception:
            log.exception("room %s failed on %s", self.room_id, type(message).__name__)
            sender = getattr(message, "sender", None)
            if sender is not None:
                self.out.add(
                    sender, protocol.encode(protocol.error("internal", "Something went wrong on the server"))
                )
        finally:
            self.out.send()
            self._snapshot_if_due()

    def _note_timer_fired(self, message: object) -> None:
        """A timer's message has arrived: it is no longer pending, whatever happens next."""
        if isinstance(message, SaveDecided):
            self.save_requested = False
        elif isinstance(message, ProgressDue):
            self.progress_timer = None
        elif isinstance(message, FloodLockDue):
            self.flood_timer = None
        elif isinstance(message, CleanupDue):
            self.cleanup_timer = None
        elif isinstance(message, ReleaseFanout):
            self.fanout_timer = None
            self.out.release_deferred()
        elif (
            isinstance(message, DeadlineDue)
            and self.deadline_timer
            and self.deadline_timer[0] == message.index
        ):
            self.deadline_timer = None

    def _refuse_busy(self, message: object) -> None:
        sender = getattr(message, "sender", None)
        if sender is not None:
            self._error(sender, BUSY, getattr(message, "ref", None) or _ref_of(message))
        if isinstance(message, MemberDisconnected):
            # Not lost: the member has no socket any more, and recovery marks it offline.
            self.attached.pop(message.sender.user_id, None)

    def _snapshot_if_due(self) -> None:
        """After the replies are out: a snapshot now and then keeps activation fast."""
        if self._version_before_saves is None or self.room is None:
            return
        before, self._version_before_saves = self._version_before_saves, None
        try:
            self.store.snapshot_if_due(self.room, before)
        except Exception:
            log.exception("room %s: snapshot failed (it is only an optimisation)", self.room_id)

    @staticmethod
    def _is_group_committed(message: object) -> bool:
        return isinstance(message, (SaveDecided, Join)) or (
            isinstance(message, RoomCommand) and message.message["type"] == "answer"
        )

    def _dispatch(self, message: object) -> None:
        if isinstance(message, Join):
            self._on_join(message.sender, message.name, message.ref)
        elif isinstance(message, HostRoomCreated):
            self._on_host_created(message)
        elif isinstance(message, RoomCommand):
            self._on_command(message)
        elif isinstance(message, MemberDisconnected):
            self._on_disconnected(message)
        elif isinstance(message, SaveDecided):
            self._save_decided()
        elif isinstance(message, DeadlineDue):
            self._on_deadline(message.index)
        elif isinstance(message, CleanupDue):
            self._on_cleanup_due()
        elif isinstance(message, ProgressDue):
            self._send_progress()
        elif isinstance(message, FloodLockDue):
            self._on_flood_lock_due()
        elif isinstance(message, RecoveryDue):
            pass  # on_receive has already rebuilt the room if it needed to

    # ------------------------------------------------------------- membership

    def _on_host_created(self, message: HostRoomCreated) -> None:
        room = self.room
        self._attach(message.sender)
        created = {"type": "room_created", "code": room.code, "room_id": str(room.id)}
        self._reply(message.sender, created, message.ref)
        self.out.add(message.sender, views.state(room, message.sender.user_id, self.member_list))

    def _on_join(self, sender: Sender, name: str, ref: Any) -> None:
        room = self.room
        if room.phase == CLOSED:
            self._error(sender, RoomError("room_not_found", f"No open room has code {room.code}"), ref)
            return
        try:
            outcome = room.join(sender.user_id, name, self.clock.now_ms(), self.settings.max_players)
        except RoomError as e:
            self._error(sender, e, ref)
            return
        # The messages are built now, with this join's seq and count; they go out after the commit.
        if outcome == "joined":
            self.unsaved.broadcasts.append(
                Broadcast(
                    {
                        "type": "member_joined",
                        "seq": room.seq,
                        "member": views.member_view(room.members[sender.user_id]),
                        "count": len(room.members),
                    },
                    but=sender.user_id,
                    coalesce=True,
                )
            )
            self._lock_against_join_flood()
        elif outcome == "rejoined":
            self.unsaved.broadcasts.append(
                Broadcast(
                    {"type": "member_online", "seq": room.seq, "user_id": sender.user_id},
                    but=sender.user_id,
                    coalesce=True,
                )
            )
        self.unsaved.joiners.append((sender, ref))  # "attached" too: its state must not show unsaved events
        self._request_save()

    def _lock_against_join_flood(self) -> None:
        """Too many new members at once: lock the room for a while and say why.

        Decided with the join that reached the limit, so the joins queued behind
        it are refused; the lock is saved and announced with them.
        """
        now, recent = self.clock.now_ms(), self.recent_joins
        recent.append(now)
        while recent and now - recent[0] > JOIN_BURST_WINDOW_MS:
            recent.popleft()
        if len(recent) >= self.settings.room_join_burst and self.room.lock(None, FLOOD_LOCK, now):
            log.warning(
                "room %s locked itself: %s joins in %s s",
                self.room.code,
                len(recent),
                JOIN_BURST_WINDOW_MS // 1000,
            )
            self.unsaved.broadcasts.append(Broadcast(self._lock_message()))
            recent.clear()

    def _attach(self, sender: Sender) -> None:
        self.attached[sender.user_id] = sender
        self.out.attached_now(sender.user_id)
        attached = AttachedToRoom(str(self.room_id), self.actor_ref, self.room.is_host(sender.user_id))
        if not tell_quietly(sender.conn, attached):
            # The socket closed while this join was on its way: it left no-one to
            # tell us, so the member goes offline now rather than stay a ghost.
            # (Quietly: when the room is stopping, on_stop saves decided joins and
            # its own mailbox is closed; the next activation marks them offline.)
            tell_quietly(self.actor_ref, MemberDisconnected(sender, "disconnected"))

    def _detach(self, user_id: str) -> None:
        sender = self.attached.pop(user_id, None)
        if sender is not None:
            tell_quietly(sender.conn, DetachedFromRoom(str(self.room_id)))

    def _on_disconnected(self, message: MemberDisconnected) -> None:
        current = self.attached.get(message.sender.user_id)
        if current is None or current.conn_id != message.sender.conn_id:
            return  # an older socket of a member who has a newer one
        del self.attached[message.sender.user_id]
        room = self.room
        if room.go_offline(message.sender.user_id, message.reason, self.clock.now_ms()):
            self._commit()
            self._broadcast(
                {"type": "member_offline", "seq": room.seq, "user_id": message.sender.user_id}, coalesce=True
            )
            self._close_if_everyone_answered()
            self._after_change()

    def _mark_detached_offline(self) -> None:
        room = self.room
        online = [u for u, m in room.members.items() if m["online"] and u not in self.attached]
        # They were last seen no later than the room's last event.
        for user_id in online:
            room.go_offline(user_id, "server_restart", room.last_event_at)
        if online:
            self._commit()

    # ------------------------------------------------------------- commands

    def _on_command(self, command: RoomCommand) -> None:
        sender, message = command.sender, command.message
        kind, ref = message["type"], message.get("ref")
        if sender.user_id not in self.room.members or self.attached.get(sender.user_id) != sender:
            self._error(sender, RoomError("not_member", "You are not in this room"), ref)
            return
        try:
            if kind == "answer":
                self._on_answer(sender, message, command.received_at, ref)
            elif kind == "resync":
                self.out.add(sender, views.state(self.room, sender.user_id, self.member_list, ref))
            elif kind == "leave":
                self._on_leave(sender, ref)
            elif kind in HOST_COMMANDS:
                self._on_host_command(sender, kind, message, ref)
            else:
                self._error(sender, RoomError("unknown_type", f"Rooms do not handle {kind!r}"), ref)
        except RoomError as e:
            self._error(sender, e, ref)

    def _on_leave(self, sender: Sender, ref: Any) -> None:
        room = self.room
        was_host = room.is_host(sender.user_id)
        room.leave(sender.user_id, self.clock.now_ms())
        self._commit(failed=[(sender, ref)])
        self._reply(sender, {"type": "left", "code": room.code}, ref)
        self._detach(sender.user_id)
        if was_host:
            self._broadcast({"type": "member_offline", "seq": room.seq, "user_id": sender.user_id})
        else:
            self._broadcast(
                {
                    "type": "member_left",
                    "seq": room.seq,
                    "user_id": sender.user_id,
                    "count": len(room.members),
                },
                coalesce=True,
            )
        self._close_if_everyone_answered()
        self._after_change()

    def _on_host_command(self, sender: Sender, kind: str, message: dict, ref: Any) -> None:
        room, now, user = self.room, self.clock.now_ms(), sender.user_id
        seq_before = room.seq
        if kind == "kick":
            target = message["user_id"]
            room.kick(user, target, now)
            self._commit(failed=[(sender, ref)])
            victim = self.attached.get(target)
            if victim is not None:
                self.out.add(victim, protocol.encode({"type": "kicked", "code": room.code}))
                self._detach(target)
                self.out.send()  # `kicked` must reach the socket before the close does
                tell_quietly(victim.conn, CloseSocket(protocol.CLOSE_KICKED, "kicked"))
            self._broadcast(
                {"type": "member_kicked", "seq": room.seq, "user_id": target, "count": len(room.members)}
            )
            self._close_if_everyone_answered()
        elif kind in ("lock", "unlock"):
            changed = room.lock(user, "host", now) if kind == "lock" else room.unlock(user, now)
            if changed:
                self._commit(failed=[(sender, ref)])
                self._broadcast(self._lock_message())
        else:
            {"start": room.start, "next": room.next, "end": room.end}[kind](user, now)
            changes = self._commit(failed=[(sender, ref)])
            self._broadcast_game_change(seq_before, changes)
        self._after_change()

    def _lock_message(self) -> dict:
        if self.room.locked:
            return {"type": "room_locked", "seq": self.room.seq, "reason": self.room.lock_reason}
        return {"type": "room_unlocked", "seq": self.room.seq}

    # ------------------------------------------------------------- answers

    def _on_answer(self, sender: Sender, message: dict, received_at: int, ref: Any) -> None:
        question = message["question"]
        self.room.answer(sender.user_id, question, message, received_at)
        self.unsaved.answers.append((sender, ref, question))
        self._request_save()

    # ------------------------------------------------------------- group commit

    def _request_save(self) -> None:
        if not self.save_requested:
            self.save_requested = True
            self.actor_ref.tell(SaveDecided())  # behind whatever answers and joins are queued now

    def _save_decided(self) -> None:
        """Save every decided answer and join in one commit, then tell everyone.

        The room hears of the joins before the joiners attach: a joiner's state
        already holds every join of the batch, so it must not get their deltas.
        """
        unsaved, self.unsaved = self.unsaved, Unsaved()
        if not unsaved:
            return
        self._commit(failed=unsaved.waiting())
        for broadcast in unsaved.broadcasts:
            self._broadcast(broadcast.message, but=broadcast.but, coalesce=broadcast.coalesce)
        for sender, ref, question in unsaved.answers:
            self._reply(sender, {"type": "answer_accepted", "question": question}, ref)
        for sender, ref in unsaved.joiners:
            self._attach(sender)
            self.out.add(sender, views.state(self.room, sender.user_id, self.member_list, ref))
        if unsaved.answers:
            self._request_progress()
            self._close_if_everyone_answered()
        self._after_change()

    def _request_progress(self) -> None:
        if self.progress_timer is None:
            self.progress_timer = self.clock.call_later(
                self.settings.progress_interval_s, lambda: tell_quietly(self.actor_ref, ProgressDue())
            )

    def _send_progress(self) -> None:
        room = self.room
        if room.phase != QUESTION:
            return
        answered, total = room.answer_progress()
        if (answered, total) == self.progress_sent:
            return
        self.progress_sent = (answered, total)
        host = self.attached.get(room.host_id)
        if host is not None:
            self._reply(host, {"type": "answers_progress", "answered": answered, "total": total})

    # ------------------------------------------------------------- timers

    def _on_deadline(self, index: int) -> None:
        room = self.room
        if room.phase != QUESTION or room.question_index != index:
            return
        if self.clock.now_ms() < room.current["deadline_at"]:
            self._after_change()  # fired early (clock skew): arm again
            return
        seq_before = room.seq
        room.close_question("timeout", self.clock.now_ms())
        changes = self._commit()
        self._broadcast_game_change(seq_before, changes)
        self._after_change()

    def _on_cleanup_due(self) -> None:
        room = self.room
        due = room.cleanup_due_at(
            self._ms(self.settings.ended_room_ttl_s), self._ms(self.settings.idle_room_ttl_s)
        )
        now = self.clock.now_ms()
        if due is None or now < due:
            self._after_change()
            return
        reason = "inactive" if room.phase == ENDED else "abandoned"
        room.close(reason, now)
        self._commit()
        self._broadcast({"type": "room_closed", "seq": room.seq, "reason": reason})
        for user_id in list(self.attached):
            self._detach(user_id)
        log.info("room %s (%s) closed: %s", room.code, self.room_id, reason)
        self.hub.tell(RoomWasClosed(str(self.room_id), room.code))

    def _close_if_everyone_answered(self) -> None:
        """After an answer, or a player going away: close when nobody online is left to answer.

        A member coming back never triggers this: after a restart the first
        player to rejoin may be one who has answered, and the question must go
        on for the others.
        """
        room = self.room
        if room.everyone_answered():
            seq_before = room.seq
            room.close_question("all_answered", self.clock.now_ms())
            changes = self._commit()
            self._broadcast_game_change(seq_before, changes)

    def _on_flood_lock_due(self) -> None:
        room = self.room
        if room.locked and room.lock_reason == FLOOD_LOCK:
            if self.clock.now_ms() < room.locked_at + self._ms(self.settings.flood_lock_s):
                self._after_change()
                return
            room.lift_flood_lock(self.clock.now_ms())
            self._commit()
            self._broadcast(self._lock_message())
        self._after_change()

    def _after_change(self) -> None:
        """Re-arm the timers the room's state now calls for."""
        room = self.room
        if room is None:
            return
        if room.phase == QUESTION:
            index, deadline = room.question_index, room.current["deadline_at"]
            if self.deadline_timer is None or self.deadline_timer[0] != index:
                delay = max(0.0, (deadline - self.clock.now_ms()) / 1000)
                timer = self.clock.call_later(delay, lambda: tell_quietly(self.actor_ref, DeadlineDue(index)))
                self.deadline_timer = (index, timer)
        if room.locked and room.lock_reason == FLOOD_LOCK and self.flood_timer is None:
            delay = max(
                0.0, (room.locked_at + self._ms(self.settings.flood_lock_s) - self.clock.now_ms()) / 1000
            )
            self.flood_timer = self.clock.call_later(
                delay, lambda: tell_quietly(self.actor_ref, FloodLockDue())
            )
        due = room.cleanup_due_at(
            self._ms(self.settings.ended_room_ttl_s), self._ms(self.settings.idle_room_ttl_s)
        )
        if self.cleanup_timer is not None and self.cleanup_timer[0] != due:
            self.cleanup_timer[1].cancel()
            self.cleanup_timer = None
        if due is not None and self.cleanup_timer is None:
            delay = max(0.0, (due - self.clock.now_ms()) / 1000)
            self.cleanup_timer = (
                due,
                self.clock.call_later(delay, lambda: tell_quietly(self.actor_ref, CleanupDue())),
            )

    @staticmethod
    def _ms(seconds: float) -> int:
        return int(seconds * 1000)

    # ------------------------------------------------------------- game broadcasts

    def _broadcast_game_change(self, seq_before: int, changes: list[str]) -> None:
        """Tell everyone what a start/next/end/close saved (``changes``), in event order."""
        room = self.room
        seq = seq_before
        for kind in changes:
            if kind == "QuestionShown":
                seq += 1
                self._broadcast({**views.question_shown(room), "seq": seq})
                self.progress_sent = None
            elif kind == "QuestionClosed":
                seq += 1
                results = views.Results(room)
                for user_id, sender in self.attached.items():
                    self.out.add(sender, results.question_closed(seq, user_id))
                    self.out.add(sender, results.leaderboard(user_id))
            elif kind == "QuizEnded":
                seq += 1
                results = views.Results(room)
                for user_id, sender in self.attached.items():
                    self.out.add(sender, results.quiz_ended(seq, user_id))

    # ------------------------------------------------------------- saving

    def _commit(self, failed: list[tuple[Sender, Any]] = ()) -> list[str]:
        """Save pending events and return their type names; on failure tell ``failed``
        busy, drop the aggregate and raise SaveFailed."""
        events = list(self.room.pending_events)
        if not events:
            return []
        if self._version_before_saves is None:
            self._version_before_saves = self.room.version - len(events)
        try:
            self.store.save(self.room)
            self.member_list.note(events)
        except Exception:
            log.exception("room %s: save failed; reloading from the store", self.room_id)
            # Decided answers and joins are always saved before any other commit, so
            # ``failed`` is everyone who is waiting on this one.
            for sender, ref in failed:
                self._error(sender, BUSY, ref)
            self.out.send()
            # The aggregate already applied what was not stored: throw it away. The
            # next message reloads it; a timer makes sure there is one.
            self.room = None
            self.clock.call_later(RECOVERY_RETRY_S, lambda: tell_quietly(self.actor_ref, RecoveryDue()))
            raise SaveFailed() from None
        return [type(e).__name__ for e in events]

    # ------------------------------------------------------------- sending

    def _reply(self, sender: Sender, message: dict, ref: Any = None) -> None:
        self.out.add(sender, protocol.encode(protocol.with_ref(message, ref)))

    def _error(self, sender: Sender, error: RoomError, ref: Any) -> None:
        self._reply(sender, protocol.error(error.code, error.message), ref)

    def _broadcast(self, message: dict, but: str | None = None, coalesce: bool = False) -> None:
        """Send to every attached member. ``coalesce``: a membership change that may
        wait a few milliseconds in a big room, to travel with the ones after it."""
        text = protocol.encode(message)  # encoded once for every receiver
        deferred = coalesce and len(self.attached) >= self.settings.fanout_coalesce_above
        if deferred:
            self.out.defer(text, but)
        else:
            for user_id, sender in self.attached.items():
                if user_id != but:
                    self.out.add(sender, text)
        if deferred and self.fanout_timer is None:
            self.fanout_timer = self.clock.call_later(
                self.settings.fanout_window_s, lambda: tell_quietly(self.actor_ref, ReleaseFanout())
            )
