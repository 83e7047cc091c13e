"""The game a room plays: questions, answers, and what everyone hears of them.

The host's start, next and end; players' answers (decided at once, saved by
the group commit); the host's ``answers_progress``; a question closing at its
deadline or when everybody online has answered (after a restart, once the
players who were in it have had time to come back); and the broadcasts of what
those commits saved (``ANNOUNCED``). Who may join or leave is ``membership.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from quiz_actors import views
from quiz_actors.actors.messages import DeadlineDue, ProgressDue, RejoinGraceDue, RoomCommand
from quiz_actors.actors.room.audience import Audience
from quiz_actors.actors.room.saving import Saving
from quiz_actors.actors.room.timers import RoomTimers, ms, question_deadline
from quiz_actors.clock import Clock
from quiz_actors.domain.room import QUESTION, Room

# The host's commands that move the game on, as the aggregate's command methods.
HOST_STEPS: dict[str, Callable[[Room, str, int], None]] = {
    "start": Room.start,
    "next": Room.next,
    "show_leaderboard": Room.show_leaderboard,
    "end": Room.end,
}


@dataclass(frozen=True)
class AwaitedRejoins:
    """Players a restart (or a takeover) left offline in an open question, before they had
    answered: the question waits for them until ``until_ms``, or until they are back."""

    index: int  # the question
    until_ms: int
    players: frozenset[str]

    def still_away(self, room: Room) -> int:
        """How many of them are neither back nor gone for good (left, kicked)."""
        if room.phase != QUESTION or room.question_index != self.index:
            return 0
        members, answers = room.members, room.answers()
        return sum(1 for u in self.players if u in members and not members[u]["online"] and u not in answers)


class Game:
    def __init__(
        self, clock: Clock, audience: Audience, saving: Saving, timers: RoomTimers, rejoin_grace_s: float
    ) -> None:
        self._clock = clock
        self._audience = audience
        self._saving = saving
        self._timers = timers
        self._rejoin_grace_ms = ms(rejoin_grace_s)
        self._progress_sent: tuple[int, int] | None = None  # the host's last answers_progress
        self._awaited: AwaitedRejoins | None = None

    # ------------------------------------------------------------- host commands

    def on_host_step(self, room: Room, command: RoomCommand, ref: Any) -> None:
        """start, next, show_leaderboard or end."""
        step = HOST_STEPS[command.message["type"]]
        seq_before = room.seq
        step(room, command.sender.user_id, self._clock.now_ms())
        events = self._saving.commit(room, failed=[(command.sender, ref)])
        # The deadline (or the ended room's cleanup) is armed before anyone hears of the
        # step: a broadcast can reach a socket while this turn still runs, and whatever a
        # client does next must find the timer there.
        self._timers.rearm(room)
        self.announce(room, seq_before, events)

    # ------------------------------------------------------------- answers

    def on_answer(self, room: Room, command: RoomCommand, ref: Any) -> None:
        """Decided now; acknowledged once the group commit has saved it."""
        sender, message = command.sender, command.message
        question = message["question"]
        # The message carries its question type's payload field; the room reads and judges it.
        room.answer(sender.user_id, question, message, command.received_at)
        self._saving.unsaved.answers.append((sender, ref, question))
        self._saving.request_save()

    def answers_saved(self, room: Room) -> None:
        self._timers.arm_progress()
        self.close_if_everyone_answered(room)

    def send_progress(self, room: Room, _: ProgressDue) -> None:
        if room.phase != QUESTION:
            return
        answered, total = room.answer_progress()
        progress = (answered, total + self.still_away(room))  # those on their way back count
        if progress == self._progress_sent:
            return
        self._progress_sent = progress
        host = self._audience.attached.get(room.host_id)
        if host is not None:
            self._audience.reply(host, views.answers_progress(*progress))

    # ------------------------------------------------------------- questions closing

    def on_deadline(self, room: Room, message: DeadlineDue) -> None:
        if room.phase != QUESTION or room.question_index != message.index:
            return
        if self._clock.now_ms() < question_deadline(room):
            self._timers.rearm(room)  # fired early (clock skew): arm again
            return
        self._close_question(room, "timeout")
        self._timers.rearm(room)

    def close_question_past_deadline(self, room: Room) -> None:
        """A deadline that passed while the server was down closes the question now,
        before anyone who is waiting to rejoin gets a state."""
        if room.phase == QUESTION and self._clock.now_ms() >= question_deadline(room):
            room.close_question("timeout", self._clock.now_ms())
            self._saving.commit(room)

    def close_if_everyone_answered(self, room: Room) -> None:
        """After an answer, or a player going away: close when nobody online is left to answer.

        A member coming back never triggers this: after a restart the first
        player to rejoin may be one who has answered, and the question must go
        on for the others. Nor does an answer while players the restart left
        offline are still on their way back (``await_rejoins``): the first
        phones back would otherwise close the question on the rest of the class.
        """
        if room.everyone_answered() and not self.still_away(room):
            self._close_question(room, "all_answered")

    # ------------------------------------------------------------- after a restart

    def await_rejoins(self, room: Room, offline: Sequence[str]) -> None:
        """``offline``: the members a restart or a takeover has just marked offline. While
        a question is open, the players among them who had not answered it are waited for
        (``--rejoin-grace-s``): until they are back, the question does not close because
        everyone online has answered. Its deadline still closes it as ever."""
        if room.phase != QUESTION or not self._rejoin_grace_ms:
            return
        answers = room.answers()
        players = frozenset(u for u in offline if room.is_player(u) and u not in answers)
        if not players:
            return
        until = self._clock.now_ms() + self._rejoin_grace_ms
        earlier = self._awaited
        if earlier is not None and earlier.index == room.question_index:
            # A reload after a failed save, during the wait: those on their way back still are.
            players |= earlier.players
        self._awaited = AwaitedRejoins(room.question_index, until, players)
        self._timers.arm_rejoin_grace(room.question_index, until)

    def rejoin_grace_ended(self, room: Room, message: RejoinGraceDue) -> None:
        """Whoever is not back by now is not waited for any longer."""
        awaited = self._awaited
        if awaited is None or (awaited.index, awaited.until_ms) != (message.index, message.until_ms):
            return  # a wait replaced since (a later reload), or one for another question
        self._awaited = None
        if room.phase != QUESTION or room.question_index != message.index:
            return
        self.close_if_everyone_answered(room)
        self._timers.rearm(room)
        self._timers.arm_progress()  # the host's total no longer counts them

    def still_away(self, room: Room, user_id: str | None = None) -> int:
        """Players the open question still waits for after a restart: the host's total
        counts them. With ``user_id``, for that member's ``state``: 0 unless it is the host."""
        if user_id is not None and not room.is_host(user_id):
            return 0
        awaited = self._awaited
        if awaited is None:
            return 0
        if self._clock.now_ms() >= awaited.until_ms:
            return 0  # its timer's message is on its way
        return awaited.still_away(room)

    def _close_question(self, room: Room, reason: str) -> None:
        seq_before = room.seq
        room.close_question(reason, self._clock.now_ms())
        self.announce(room, seq_before, self._saving.commit(room))

    # ------------------------------------------------------------- broadcasts

    def announce(self, room: Room, seq_before: int, events: Sequence[object]) -> None:
        """Tell everyone what a start/next/show_leaderboard/end/close saved, in event order."""
        seq = seq_before
        for event in events:
            announcement = announcement_for(event)
            if announcement is not None:
                seq += 1
                announcement(self, room, seq)

    def _question_shown(self, room: Room, seq: int) -> None:
        self._audience.broadcast(views.question_shown(room, seq))
        self._progress_sent = None

    def _question_closed(self, room: Room, seq: int) -> None:
        results = views.Results(room)
        closed, board = results.question_closed, results.leaderboard
        attached = self._audience.attached
        # One frame per member with both messages, its ``you`` in each.
        own = ((sender, (closed(seq, user_id), board(user_id))) for user_id, sender in attached.items())
        self._audience.to_each(own, types=("question_closed", "leaderboard"))

    def _leaderboard_shown(self, room: Room, seq: int) -> None:
        self._audience.broadcast(views.leaderboard_shown(room, seq))

    def _quiz_ended(self, room: Room, seq: int) -> None:
        results = views.Results(room)
        own = (
            (sender, (results.quiz_ended(seq, user_id),))
            for user_id, sender in self._audience.attached.items()
        )
        self._audience.to_each(own, types=("quiz_ended",))


Announcement = Callable[[Game, Room, int], None]

# The saved events the whole room hears of after a game command or a question
# closing, each one change of ``seq``. The one place the actor names events.
ANNOUNCED: dict[type[Any], Announcement] = {
    Room.QuestionShown: Game._question_shown,
    Room.QuestionClosed: Game._question_closed,
    Room.LeaderboardShown: Game._leaderboard_shown,
    Room.QuizEnded: Game._quiz_ended,
}


def announcement_for(event: object) -> Announcement | None:
    return ANNOUNCED.get(type(event))
