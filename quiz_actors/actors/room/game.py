"""The game a room plays: questions, answers, and what everyone hears of them.

The host's start, next and end; players' answers (decided at once, saved by
the group commit); the host's ``answers_progress``; a question closing at its
deadline or when everybody online has answered; and the broadcasts of what
those commits saved (``ANNOUNCED``). Who may join or leave is ``membership.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from quiz_actors import views
from quiz_actors.actors.messages import DeadlineDue, ProgressDue, RoomCommand
from quiz_actors.actors.room.audience import Audience
from quiz_actors.actors.room.saving import Saving
from quiz_actors.actors.room.timers import RoomTimers, question_deadline
from quiz_actors.clock import Clock
from quiz_actors.domain.room import QUESTION, Room

# The host's commands that move the game on, as the aggregate's command methods.
HOST_STEPS: dict[str, Callable[[Room, str, int], None]] = {
    "start": Room.start,
    "next": Room.next,
    "show_leaderboard": Room.show_leaderboard,
    "end": Room.end,
}


class Game:
    def __init__(self, clock: Clock, audience: Audience, saving: Saving, timers: RoomTimers) -> None:
        self._clock = clock
        self._audience = audience
        self._saving = saving
        self._timers = timers
        self._progress_sent: tuple[int, int] | None = None  # the host's last answers_progress

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
        progress = room.answer_progress()
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
        on for the others.
        """
        if room.everyone_answered():
            self._close_question(room, "all_answered")

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
