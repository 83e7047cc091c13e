"""The Room aggregate: a quiz being played, and everything that happened in it.

Command methods (``join``, ``answer``, ``next``…) decide: they check the rules
and raise ``RoomError`` with a docs/protocol.md error code, changing nothing, or
trigger one or more events. The ``@event`` methods apply those events; they run
again on every replay, so they do no I/O and read no clock: every time they need
(``at``, ``deadline_at``, ``received_at``) is an event field, in milliseconds
since the epoch.

``seq`` counts the changes that are broadcast to the whole room. Events that
only some members hear of (``AnswerSubmitted``) or that never reach the wire by
themselves (``QuizStarted``) do not advance it.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from eventsourcing.domain import Aggregate, event

from quiz_actors.domain.errors import RoomError
from quiz_actors.domain.friendly_names import friendly_name
from quiz_actors.domain.lookalikes import lookalike_key
from quiz_actors.domain.names import NameInvalid, name_key, normalise_name
from quiz_actors.domain.questions import (
    AnswerRefused,
    JudgedAnswer,
    Payload,
    decide,
    is_judged,
    public_view,
    read_answer,
    reveal,
    type_of,
)
from quiz_actors.domain.scoring import streak_without_answer
from quiz_actors.domain.verdict import RIGHT, Verdict, verdict_of
from quiz_actors.domain.word_filter import rude_word_in

LOBBY, QUESTION, REVEAL, ENDED, CLOSED = "lobby", "question", "reveal", "ended", "closed"
FLOOD_LOCK = "join_flood"  # the reason of a lock the room puts on itself


@dataclass(frozen=True)
class Mark:
    """An answer as the scoring rule marks it: the fields of ``AnswerSubmitted`` it decides."""

    elapsed_ms: int
    verdict: str  # quiz_actors.domain.verdict: right, wrong or unjudged (a poll)
    points: int
    streak: int

    @property
    def correct(self) -> bool:
        return self.verdict == RIGHT


class Room(Aggregate):
    """Each event is a class declared beside the method that applies it.

    Stored events name their class by ``TOPIC``: pinned, so that a store keeps
    loading if this module or a class is ever moved or renamed. A topic never
    changes (tests/test_previous_release_store.py replays a store of an earlier
    release).
    """

    # Snapshots of version 1 were taken before question types (upcast_v1_v2), of
    # version 2 before quizzes had revisions (upcast_v2_v3), of version 3 before
    # name rules, look-alike names, the get-ready phase and the leaderboard step
    # (upcast_v3_v4), of version 4 before the room counted who is still to answer
    # (upcast_v4_v5).
    class_version = 5

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        """A room snapshot from before question types: every question was a choice question,
        each answer a ``choice`` judged right or wrong."""
        current = state.get("current")
        if current is not None:
            for a in current["answers"].values():
                a.setdefault("answer", {"choice": a["choice"]})
                a.setdefault("verdict", verdict_of(a["correct"]).outcome)
        if state.get("last_result") is not None:
            state["last_result"].setdefault("question_type", "choice")

    @staticmethod
    def upcast_v2_v3(state: dict[str, Any]) -> None:
        """A room snapshot from before quiz revisions: every quiz had only its first."""
        state.setdefault("quiz_revision", 1)

    @staticmethod
    def upcast_v3_v4(state: dict[str, Any]) -> None:
        """A room snapshot from before name rules (no word filter, names chosen by players,
        as ``RoomCreated`` v2 upcasts; its members' look-alike keys), the get-ready phase
        (answers opened as a question was shown) and the leaderboard step (nobody had
        asked for it, nobody moved)."""
        state.setdefault("word_filter", False)
        state.setdefault("friendly_names", False)
        state["name_lookalikes"] = {lookalike_key(m["name"]): u for u, m in state["members"].items()}
        current = state.get("current")
        if current is not None:
            current.setdefault("opens_at", current["shown_at"])
        state.setdefault("leaderboard_shown", False)
        state.setdefault("ranks_before", {})

    @staticmethod
    def upcast_v4_v5(state: dict[str, Any]) -> None:
        """A room snapshot from before ``to_answer``: counted from its members. (Counted
        afresh even if present: a release that did not keep it may have carried a stale
        copy from a later snapshot into its own, stamped version 4.)"""
        current = state.get("current")
        answers = current["answers"] if current else {}
        state["to_answer"] = _still_to_answer(state["members"], state["host_id"], answers)

    # ------------------------------------------------------------------ creation

    class RoomCreated(Aggregate.Created):
        """``quiz`` is a copy of the quiz's revision ``quiz_revision``: the room plays that one,
        whatever happens to the quiz later. ``word_filter``: names with a rude word are refused;
        ``friendly_names``: players get a name from the room (quiz_actors/domain/friendly_names.py)."""

        TOPIC = "quiz_actors.domain.room:Room.RoomCreated"
        # Version 1 was written before quizzes had revisions: it played revision 1.
        # Version 2 before name rules.
        class_version = 3
        code: str
        quiz_id: str
        quiz: dict[str, Any]
        host_id: str
        host_name: str
        created_at: int
        quiz_revision: int
        word_filter: bool
        friendly_names: bool

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["quiz_revision"] = 1

        @staticmethod
        def upcast_v2_v3(state: dict[str, Any]) -> None:
            """A room created before name rules keeps the rules it had: players chose
            any name, unfiltered. (Its host may switch the filter on.)"""
            state["word_filter"] = False
            state["friendly_names"] = False

    @event(RoomCreated)
    def __init__(
        self,
        code: str,
        quiz_id: str,
        quiz: dict[str, Any],
        host_id: str,
        host_name: str,
        created_at: int,
        quiz_revision: int,
        word_filter: bool,
        friendly_names: bool,
    ):
        self.code = code
        self.quiz_id = quiz_id
        self.quiz = quiz  # a copy of the quiz, so the room replays on its own
        self.quiz_revision = quiz_revision
        self.host_id = host_id
        self.created_at = created_at
        self.phase = LOBBY
        self.locked = False
        self.lock_reason: str | None = None
        self.locked_at: int | None = None
        self.members: dict[str, dict[str, Any]] = {}
        self.departed: dict[str, dict[str, Any]] = {}  # left members: their score comes back on return
        self.kicked: dict[str, bool] = {}
        self.names_taken: dict[str, str] = {}  # name_key -> user id, for the uniqueness rule
        # lookalike_key -> user id. Rooms from before look-alikes were refused may hold two
        # members with one key: it names one of them, and is only dropped by its own member.
        self.name_lookalikes: dict[str, str] = {}
        self.word_filter = word_filter
        self.friendly_names = friendly_names
        self.question_index = -1
        self.current: dict[str, Any] | None = None  # the question being played or just closed
        self.last_result: dict[str, Any] | None = None
        self.leaderboard_shown = False  # the host has moved the reveal on to the leaderboard
        self.ranks_before: dict[str, int] = {}  # each player's rank before the last close
        self.started_at: int | None = None
        self.ended_at: int | None = None
        self.closed_reason: str | None = None
        self.order_counter = 0
        self.seq = 1
        self.last_event_at = created_at
        self.offline_since: int | None = None
        # Online players without an answer to the current question (none before the first):
        # "has everyone answered?" after every commit of an answer burst reads it instead of
        # walking the members. Kept by every event that changes who is online, who is a
        # member or who has answered; ``_still_to_answer`` is the walk it stands for.
        self.to_answer = 0
        self._add_member(host_id, host_name, created_at, online=True)

    @classmethod
    def open(
        cls,
        *,
        code: str,
        quiz_id: str,
        quiz: dict[str, Any],
        host_id: str,
        host_name: str,
        at: int,
        quiz_revision: int = 1,
        word_filter: bool = True,
        friendly_names: bool = False,
    ) -> Room:
        """A new room; its word filter is on unless the host says otherwise."""
        name = _checked_name(host_name, word_filter)
        return cls(
            code=code,
            quiz_id=quiz_id,
            quiz=quiz,
            host_id=host_id,
            host_name=name,
            created_at=at,
            quiz_revision=quiz_revision,
            word_filter=word_filter,
            friendly_names=friendly_names,
        )

    # ------------------------------------------------------------------ queries

    @property
    def question_count(self) -> int:
        return len(self.quiz["questions"])

    def anyone_joined(self) -> bool:
        """Whether anyone but the host has ever been a member (kicked and departed included)."""
        # Looked up after every commit (the cleanup timer): stop at the first player
        # rather than copy every member of a room of thousands.
        host = self.host_id
        return any(u != host for u in itertools.chain(self.members, self.departed, self.kicked))

    def is_host(self, user_id: str) -> bool:
        return user_id == self.host_id

    def is_player(self, user_id: str) -> bool:
        return user_id in self.members and user_id != self.host_id

    def player_count(self) -> int:
        return len(self.members) - (1 if self.host_id in self.members else 0)

    def online_players(self) -> list[str]:
        return [u for u, m in self.members.items() if m["online"] and u != self.host_id]

    def any_member_online(self) -> bool:
        return any(m["online"] for m in self.members.values())

    def question(self, index: int) -> dict[str, Any]:
        question: dict[str, Any] = self.quiz["questions"][index]
        return question

    def current_question(self) -> dict[str, Any]:
        """The question being played or just closed (its timing and answers)."""
        if self.current is None:
            raise RoomError("wrong_phase", "No question has been shown yet")
        return self.current

    def latest_result(self) -> dict[str, Any]:
        """The result of the question that closed last, while the room shows it."""
        if self.last_result is None:
            raise RoomError("wrong_phase", "No question has closed since the last one was shown")
        return self.last_result

    def answers(self) -> dict[str, dict[str, Any]]:
        return self.current["answers"] if self.current else {}

    def answer_progress(self) -> tuple[int, int]:
        """(answered, total): total counts players online or already answered."""
        answers = self.answers()
        total = sum(1 for u, m in self.members.items() if u != self.host_id and (m["online"] or u in answers))
        return len(answers), total

    def everyone_answered(self) -> bool:
        # A count, not a walk of the members: this runs after every commit of an answer burst.
        return self.phase == QUESTION and self.to_answer == 0 and bool(self.answers())

    def _is_to_answer(self, user_id: str, member: dict[str, Any]) -> bool:
        """Whether this member counts in ``to_answer``: an online player who has not answered."""
        return bool(member["online"]) and user_id != self.host_id and user_id not in self.answers()

    def ranking(self) -> list[dict[str, Any]]:
        """Players by score; equal scores rank by who reached that score first."""
        players = [m for u, m in self.members.items() if u != self.host_id]
        players.sort(key=lambda m: (-m["score"], m["score_order"]))
        return [
            {"rank": i + 1, "user_id": m["user_id"], "name": m["name"], "score": m["score"]}
            for i, m in enumerate(players)
        ]

    def cleanup_due_at(
        self,
        ended_ttl_ms: int,
        idle_ttl_ms: int,
        assume_nobody_online: bool = False,
        unjoined_ttl_ms: int | None = None,
    ) -> int | None:
        """When this room should close if nothing else happens, or None.

        ``assume_nobody_online`` is for rooms whose actor is not running: members
        the store shows online were left so by a stop, and were last seen no later
        than the room's last event. ``unjoined_ttl_ms``, when given, replaces the
        idle time of a room no player ever joined: such rooms are what a script
        creating rooms leaves behind, and nobody is waiting in them.
        """
        if unjoined_ttl_ms is not None and not self.anyone_joined():
            idle_ttl_ms = min(idle_ttl_ms, unjoined_ttl_ms)
        if self.phase == CLOSED:
            return None
        due = []
        if self.phase == ENDED:
            due.append(self.last_event_at + ended_ttl_ms)
        offline_since = self.offline_since
        if assume_nobody_online and offline_since is None:
            offline_since = self.last_event_at
        if offline_since is not None:
            due.append(offline_since + idle_ttl_ms)
        return min(due) if due else None

    # ------------------------------------------------------------------ commands

    def join(self, user_id: str, name: str, at: int, max_players: int) -> str:
        """Join or rejoin. Returns "joined", "rejoined" or "attached" (already online)."""
        self._require_open()
        if user_id in self.kicked:
            raise RoomError("kicked", "The host removed you from this room")
        member = self.members.get(user_id)
        if member is not None:
            if member["online"]:
                return "attached"
            self._member_online(user_id=user_id, at=at)
            return "rejoined"
        if self.locked:
            raise RoomError("room_locked", "The host has locked this room")
        if self.player_count() >= max_players:
            raise RoomError("room_full", f"This room is full ({max_players} players)")
        if self.friendly_names:
            clean = friendly_name(user_id, lambda n: self.name_clash(n) is not None)
        else:
            clean = _checked_name(name, self.word_filter)
            clash = self.name_clash(clean)
            if clash is not None:
                raise _name_taken(clean, self.members[clash]["name"])
        self._member_joined(user_id=user_id, name=clean, at=at)
        return "joined"

    def name_clash(self, name: str) -> str | None:
        """The member whose name is ``name`` (in any case) or looks the same, or None."""
        holder = self.names_taken.get(name_key(name))
        if holder is None:
            holder = self.name_lookalikes.get(lookalike_key(name))
        return holder if holder in self.members else None

    def set_name_rules(self, by: str, word_filter: bool | None, friendly_names: bool | None, at: int) -> bool:
        """The host changes how the next players are named; False if nothing changed."""
        self._require_host(by)
        self._require_open()
        wanted_filter = self.word_filter if word_filter is None else word_filter
        wanted_friendly = self.friendly_names if friendly_names is None else friendly_names
        if (wanted_filter, wanted_friendly) == (self.word_filter, self.friendly_names):
            return False
        self._name_rules_changed(word_filter=wanted_filter, friendly_names=wanted_friendly, at=at)
        return True

    def leave(self, user_id: str, at: int) -> None:
        self._require_member(user_id)
        if self.is_host(user_id):
            # The host stays the host: leaving only takes them offline.
            self.go_offline(user_id, "left", at)
            return
        self._member_left(user_id=user_id, at=at)

    def go_offline(self, user_id: str, reason: str, at: int) -> bool:
        member = self.members.get(user_id)
        if member is None or not member["online"] or self.phase == CLOSED:
            return False
        self._member_offline(user_id=user_id, reason=reason, at=at)
        return True

    def kick(self, by: str, user_id: str, at: int) -> None:
        self._require_host(by)
        self._require_open()
        if user_id == self.host_id:
            raise RoomError("not_player", "The host cannot be kicked")
        if user_id not in self.members:
            raise RoomError("not_member", "That user is not a member of this room")
        self._member_kicked(user_id=user_id, at=at)

    def lock(self, by: str | None, reason: str, at: int) -> bool:
        if by is not None:
            self._require_host(by)
        self._require_open()
        if self.locked:
            return False
        self._room_locked(reason=reason, at=at)
        return True

    def unlock(self, by: str, at: int) -> bool:
        self._require_host(by)
        self._require_open()
        if not self.locked:
            return False
        self._room_unlocked(at=at)
        return True

    def lift_flood_lock(self, at: int) -> bool:
        """End a lock the room put on itself against a join flood (never the host's own lock)."""
        if self.phase == CLOSED or not self.locked or self.lock_reason != FLOOD_LOCK:
            return False
        self._room_unlocked(at=at)
        return True

    def start(self, by: str, at: int) -> None:
        self._require_host(by)
        if self.phase != LOBBY:
            raise RoomError("wrong_phase", "The quiz has already started")
        self._quiz_started(at=at)
        self._show_question(0, at)

    def next(self, by: str, at: int) -> None:
        """Host's "next": start, close the open question early, or move on."""
        self._require_host(by)
        if self.phase == LOBBY:
            self.start(by, at)
        elif self.phase == QUESTION:
            self._question_closed(index=self.question_index, reason="skipped", at=at)
        elif self.phase == REVEAL:
            if self.question_index + 1 < self.question_count:
                self._show_question(self.question_index + 1, at)
            else:
                self._quiz_ended(reason="completed", at=at)
        else:
            raise RoomError("wrong_phase", "The quiz is over")

    def show_leaderboard(self, by: str, at: int) -> None:
        """Host's second step after a question closes: from the reveal to the leaderboard.

        Optional: ``next`` from the reveal moves on whether or not it was shown.
        """
        self._require_host(by)
        if self.phase != REVEAL:
            raise RoomError("wrong_phase", "The leaderboard is shown after a question closes")
        if self.leaderboard_shown:
            raise RoomError("wrong_phase", "The leaderboard is already shown")
        self._leaderboard_shown(index=self.question_index, at=at)

    def end(self, by: str, at: int) -> None:
        self._require_host(by)
        if self.phase in (ENDED, CLOSED):
            raise RoomError("wrong_phase", "The quiz is already over")
        if self.phase == QUESTION:
            self._question_closed(index=self.question_index, reason="skipped", at=at)
        self._quiz_ended(reason="ended_by_host", at=at)

    def answer(
        self, user_id: str, question: int, given: Mapping[str, Any] | int, received_at: int
    ) -> dict[str, Any]:
        """Decide one answer. ``given`` holds the answer message's payload field
        (docs/protocol.md, "Question types"); a bare number is a ``choice``."""
        self._require_member(user_id)
        if self.is_host(user_id):
            raise RoomError("not_player", "The host does not answer")
        closed_up_to = self.question_index if self.phase != QUESTION else self.question_index - 1
        if 0 <= question <= closed_up_to:
            raise RoomError("too_late", f"Question {question} has closed")
        if self.phase != QUESTION or question != self.question_index:
            raise RoomError("wrong_phase", f"Question {question} is not open")
        current = self.current_question()
        if user_id in current["answers"]:
            raise RoomError("already_answered", "You have already answered this question")
        try:
            payload = read_answer(
                self.question(question), {"choice": given} if isinstance(given, int) else given
            )
        except AnswerRefused as refused:
            raise RoomError(refused.code, refused.message) from None
        if received_at > current["deadline_at"]:
            raise RoomError("too_late", "Time is up for this question")
        opens_at = current["opens_at"]
        if received_at < opens_at:
            wait_s = -(-(opens_at - received_at) // 1000)  # whole seconds, rounded up
            raise RoomError(
                "not_open_yet",
                f"Answers open in {wait_s} s: read the question first, then answer",
            )
        mark = self.mark_answer(user_id, payload, received_at)
        # What trigger_event does, without its copies of the arguments and its topic
        # check on every call (every answer of a burst comes here): the event, next in
        # the room's sequence, applied as a replay applies it (its own ``apply``). (The
        # library makes each event class a dataclass of its fields as the class is
        # created; mypy sees only the base class's three.)
        submitted = self.AnswerSubmitted(  # type: ignore[call-arg]
            originator_id=self.id,
            originator_version=self.version + 1,
            timestamp=self.AnswerSubmitted.create_timestamp(),
            question=question,
            user_id=user_id,
            choice=payload.get("choice"),
            received_at=received_at,
            elapsed_ms=mark.elapsed_ms,
            correct=mark.correct,
            points=mark.points,
            streak=mark.streak,
            answer=payload,
            verdict=mark.verdict,
        )
        submitted.mutate(self)
        self._pending_events.append(submitted)
        answer: dict[str, Any] = current["answers"][user_id]
        return answer

    def mark_answer(self, user_id: str, payload: Payload, received_at: int) -> Mark:
        """What a player's answer to the open question earns: judged by its type, scored by the rule.

        ``answer`` stores this in ``AnswerSubmitted``; ``quiz-replay --check``
        holds stored answers to it.
        """
        current = self.current_question()
        # Points count from when answers open, not from when the question was shown.
        elapsed = max(0, received_at - current["opens_at"])
        verdict, score = decide(
            self.question(current["index"]),
            payload,
            elapsed_ms=elapsed,
            streak_before=self.members[user_id]["streak"],
        )
        return Mark(elapsed_ms=elapsed, verdict=verdict.outcome, points=score.points, streak=score.streak)

    def get_ready_ms(self) -> int:
        """How long each question is shown before answers open: the quiz's ``get_ready_s``
        (the hub fills in the server's default when the quiz document has none). A room
        opened before the get-ready phase existed has none, and opens answers at once."""
        get_ready_s: float = self.quiz.get("get_ready_s", 0)
        return round(get_ready_s * 1000)

    def deadline_for(self, index: int, opens_at: int) -> int:
        """When question ``index`` closes if its answers open at ``opens_at``: its time limit later."""
        time_limit_s: int = self.question(index)["time_limit_s"]
        return opens_at + time_limit_s * 1000

    def close_question(self, reason: str, at: int) -> bool:
        if self.phase != QUESTION:
            return False
        self._question_closed(index=self.question_index, reason=reason, at=at)
        return True

    def close(self, reason: str, at: int) -> bool:
        if self.phase == CLOSED:
            return False
        self._room_closed(reason=reason, at=at)
        return True

    # ------------------------------------------------------------------ rules

    def _require_open(self) -> None:
        if self.phase == CLOSED:
            raise RoomError("room_closed", "This room has closed")

    def _require_member(self, user_id: str) -> None:
        if user_id not in self.members:
            raise RoomError("not_member", "You are not a member of this room")

    def _require_host(self, user_id: str) -> None:
        self._require_member(user_id)
        if not self.is_host(user_id):
            raise RoomError("not_host", "Only the host can do that")

    def _show_question(self, index: int, at: int) -> None:
        opens_at = at + self.get_ready_ms()
        self._question_shown(
            index=index, shown_at=at, opens_at=opens_at, deadline_at=self.deadline_for(index, opens_at)
        )

    # ------------------------------------------------------------------ events

    def _next_order(self) -> int:
        self.order_counter += 1
        return self.order_counter

    def _add_member(self, user_id: str, name: str, at: int, online: bool) -> None:
        earlier = self.departed.pop(user_id, {"score": 0, "streak": 0})
        self.names_taken[name_key(name)] = user_id
        self.name_lookalikes.setdefault(lookalike_key(name), user_id)
        self.members[user_id] = {
            "user_id": user_id,
            "name": name,
            "online": online,
            "score": earlier["score"],
            "streak": earlier["streak"],
            "score_order": self._next_order(),
            "joined_at": at,
        }

    def _changed(self, at: int, broadcast: bool = True) -> None:
        self.last_event_at = at
        if broadcast:
            self.seq += 1
        if self.any_member_online():
            self.offline_since = None
        elif self.offline_since is None:
            self.offline_since = at

    class MemberJoined(Aggregate.Event):
        TOPIC = "quiz_actors.domain.room:Room.MemberJoined"
        user_id: str
        name: str
        at: int

    @event(MemberJoined)
    def _member_joined(self, user_id: str, name: str, at: int) -> None:
        self._add_member(user_id, name, at, online=True)
        # One who answered, left and joined again during the question has still answered.
        self.to_answer += self._is_to_answer(user_id, self.members[user_id])
        self._changed(at)

    class MemberLeft(Aggregate.Event):
        TOPIC = "quiz_actors.domain.room:Room.MemberLeft"
        user_id: str
        at: int

    @event(MemberLeft)
    def _member_left(self, user_id: str, at: int) -> None:
        member = self.members.pop(user_id)
        self.to_answer -= self._is_to_answer(user_id, member)
        self._drop_name(user_id, member["name"])
        self.departed[user_id] = {"score": member["score"], "streak": member["streak"]}
        self._changed(at)

    class MemberOffline(Aggregate.Event):
        TOPIC = "quiz_actors.domain.room:Room.MemberOffline"
        user_id: str
        reason: str
        at: int

    @event(MemberOffline)
    def _member_offline(self, user_id: str, reason: str, at: int) -> None:
        member = self.members[user_id]
        self.to_answer -= self._is_to_answer(user_id, member)
        member["online"] = False
        self._changed(at)

    class MemberOnline(Aggregate.Event):
        TOPIC = "quiz_actors.domain.room:Room.MemberOnline"
        user_id: str
        at: int

    @event(MemberOnline)
    def _member_online(self, user_id: str, at: int) -> None:
        member = self.members[user_id]
        if not member["online"]:  # (a history may hold two of these in a row)
            member["online"] = True
            self.to_answer += self._is_to_answer(user_id, member)
        self._changed(at)

    class MemberKicked(Aggregate.Event):
        TOPIC = "quiz_actors.domain.room:Room.MemberKicked"
        user_id: str
        at: int

    @event(MemberKicked)
    def _member_kicked(self, user_id: str, at: int) -> None:
        member = self.members.pop(user_id)
        self.to_answer -= self._is_to_answer(user_id, member)
        self._drop_name(user_id, member["name"])
        self.kicked[user_id] = True
        self._changed(at)

    def _drop_name(self, user_id: str, name: str) -> None:
        del self.names_taken[name_key(name)]
        key = lookalike_key(name)
        if self.name_lookalikes.get(key) == user_id:
            # In a room from before look-alikes were refused, another member may share
            # the key (see __init__): it is free from now on, as it was in that release.
            del self.name_lookalikes[key]

    class NameRulesChanged(Aggregate.Event):
        TOPIC = "quiz_actors.domain.room:Room.NameRulesChanged"
        word_filter: bool
        friendly_names: bool
        at: int

    @event(NameRulesChanged)
    def _name_rules_changed(self, word_filter: bool, friendly_names: bool, at: int) -> None:
        self.word_filter = word_filter
        self.friendly_names = friendly_names
        self._changed(at)

    class RoomLocked(Aggregate.Event):
        TOPIC = "quiz_actors.domain.room:Room.RoomLocked"
        reason: str
        at: int

    @event(RoomLocked)
    def _room_locked(self, reason: str, at: int) -> None:
        self.locked = True
        self.lock_reason = reason
        self.locked_at = at
        self._changed(at)

    class RoomUnlocked(Aggregate.Event):
        TOPIC = "quiz_actors.domain.room:Room.RoomUnlocked"
        at: int

    @event(RoomUnlocked)
    def _room_unlocked(self, at: int) -> None:
        self.locked = False
        self.lock_reason = None
        self._changed(at)

    class QuizStarted(Aggregate.Event):
        TOPIC = "quiz_actors.domain.room:Room.QuizStarted"
        at: int

    @event(QuizStarted)
    def _quiz_started(self, at: int) -> None:
        self.started_at = at
        self._changed(at, broadcast=False)

    class QuestionShown(Aggregate.Event):
        """``opens_at``: when answers open, after the get-ready phase (points count from
        then); ``deadline_at`` is the question's time limit after that."""

        TOPIC = "quiz_actors.domain.room:Room.QuestionShown"
        class_version = 2
        index: int
        shown_at: int
        deadline_at: int
        opens_at: int

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            """Before the get-ready phase, answers opened as the question was shown."""
            state["opens_at"] = state["shown_at"]

    @event(QuestionShown)
    def _question_shown(self, index: int, shown_at: int, deadline_at: int, opens_at: int) -> None:
        self.phase = QUESTION
        self.question_index = index
        self.current = {
            "index": index,
            "shown_at": shown_at,
            "opens_at": opens_at,
            "deadline_at": deadline_at,
            "answers": {},
        }
        self.to_answer = _still_to_answer(self.members, self.host_id, {})
        self.last_result = None
        self.leaderboard_shown = False
        self._changed(shown_at)

    class AnswerSubmitted(Aggregate.Event):
        """``answer`` is the payload as the player sent it, ``verdict`` and ``points`` as decided.

        ``choice`` and ``correct`` stay for readers from before question types:
        ``choice`` is the tapped index for choice, true_false and poll, else None.
        """

        TOPIC = "quiz_actors.domain.room:Room.AnswerSubmitted"
        class_version = 2
        question: int
        user_id: str
        choice: int | None
        received_at: int
        elapsed_ms: int
        correct: bool
        points: int
        streak: int
        answer: dict[str, Any]
        verdict: str

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            """Before question types every answer was a choice, right or wrong."""
            state["answer"] = {"choice": state["choice"]}
            state["verdict"] = verdict_of(state["correct"]).outcome

        def apply(self, aggregate: Room) -> None:
            # Its own apply method, not an @event one: the library's decorator binds the
            # event's fields to the method's parameters on every call, and every answer of
            # a burst is applied here (the topic, the fields and the stored bytes are the same).
            aggregate._answer_submitted(self)

    def _answer_submitted(self, e: AnswerSubmitted) -> None:
        user_id = e.user_id
        member = self.members.get(user_id)
        if member is not None:  # a member's answer (as answer() decides) before it is stored
            self.to_answer -= self._is_to_answer(user_id, member)
        self.current_question()["answers"][user_id] = {
            "user_id": user_id,
            "choice": e.choice,
            "answer": e.answer,
            "verdict": e.verdict,
            "received_at": e.received_at,
            "elapsed_ms": e.elapsed_ms,
            "correct": e.correct,
            "points": e.points,
            "streak": e.streak,
        }
        self._changed(e.received_at, broadcast=False)

    class QuestionClosed(Aggregate.Event):
        TOPIC = "quiz_actors.domain.room:Room.QuestionClosed"
        index: int
        reason: str
        at: int

    @event(QuestionClosed)
    def _question_closed(self, index: int, reason: str, at: int) -> None:
        q = self.question(index)
        answers = self.current_question()["answers"]
        judged = is_judged(q)
        # Who moved up is told on the leaderboard: the rank before this close of each
        # player who had scored (with no points yet, nobody holds a place to move from).
        self.ranks_before = {row["user_id"]: row["rank"] for row in self.ranking() if row["score"] > 0}
        # Scores change in the order answers arrived: that decides ties.
        for a in sorted(answers.values(), key=lambda a: a["received_at"]):
            member = self.members.get(a["user_id"])
            if member is None:
                continue
            member["streak"] = a["streak"]
            if a["points"]:
                member["score"] += a["points"]
                member["score_order"] = self._next_order()
        results = {}
        for user_id, member in self.members.items():
            if user_id == self.host_id:
                continue
            a = answers.get(user_id)
            if a is None:
                member["streak"] = streak_without_answer(judged, member["streak"])
            results[user_id] = {
                "correct": bool(a and a["correct"]),
                "points": a["points"] if a else 0,
                "streak": member["streak"],
                "score": member["score"],
            }
        self.phase = REVEAL
        shown = [JudgedAnswer(a["answer"], Verdict(a["verdict"])) for a in answers.values()]
        self.last_result = {
            "index": index,
            "reason": reason,
            "question_type": type_of(q).name,
            **reveal(q, shown),
            "results": results,
        }
        self._changed(at)

    class LeaderboardShown(Aggregate.Event):
        TOPIC = "quiz_actors.domain.room:Room.LeaderboardShown"
        index: int
        at: int

    @event(LeaderboardShown)
    def _leaderboard_shown(self, index: int, at: int) -> None:
        self.leaderboard_shown = True
        self._changed(at)

    class QuizEnded(Aggregate.Event):
        TOPIC = "quiz_actors.domain.room:Room.QuizEnded"
        reason: str
        at: int

    @event(QuizEnded)
    def _quiz_ended(self, reason: str, at: int) -> None:
        self.phase = ENDED
        self.ended_at = at
        self._changed(at)

    class RoomClosed(Aggregate.Event):
        TOPIC = "quiz_actors.domain.room:Room.RoomClosed"
        reason: str
        at: int

    @event(RoomClosed)
    def _room_closed(self, reason: str, at: int) -> None:
        self.phase = CLOSED
        self.closed_reason = reason
        self._changed(at)

    # ------------------------------------------------------------------ cluster mode

    class RoomTakenOver(Aggregate.Event):
        """A node of a cluster took the room's lease (docs/cluster.md, "Fencing").

        The new owner appends it before it serves the room, so the room's next
        version is taken: a save by the former owner, which still believes it
        owns the room, fails on the store's version check. It changes nothing a
        member sees: no ``seq``, no activity time (the cleanup stays as due).
        """

        TOPIC = "quiz_actors.domain.room:Room.RoomTakenOver"
        node: str
        epoch: int
        at: int

    def take_over(self, node: str, epoch: int, at: int) -> None:
        self._taken_over(node=node, epoch=epoch, at=at)

    @event(RoomTakenOver)
    def _taken_over(self, node: str, epoch: int, at: int) -> None:
        self.owner_node = node
        self.owner_epoch = epoch

    def owner(self) -> tuple[str, int] | None:
        """The node and lease epoch of the last takeover; None if no node ever took the room over
        (it is still served by the node that created it, or the store is a single node's)."""
        node: str | None = getattr(self, "owner_node", None)  # absent from rooms never taken over
        return None if node is None else (node, int(getattr(self, "owner_epoch", 0)))


# The events that do not advance ``seq`` (docs/protocol.md, "seq: staying in step"):
# their apply methods change the room with ``broadcast=False``.
NOT_BROADCAST: tuple[type[Room.Event], ...] = (Room.QuizStarted, Room.AnswerSubmitted, Room.RoomTakenOver)


def describe_question(room: Room) -> dict[str, Any] | None:
    """The open or just-closed question as members may see it (no answers before close)."""
    if room.current is None or room.phase not in (QUESTION, REVEAL):
        return None
    index = room.current["index"]
    q = room.question(index)
    public = {
        "index": index,
        "count": room.question_count,
        "text": q["text"],
        **public_view(q),
        "time_limit_ms": q["time_limit_s"] * 1000,
        "deadline_ms": room.current["deadline_at"],
        "opens_ms": room.current["opens_at"],
    }
    if room.phase == REVEAL and room.last_result is not None:
        public.update(revealed(room.last_result))
    return public


def moved_up_board(room: Room, size: int) -> list[dict[str, Any]]:
    """The leaderboard step's rows: the ``size`` best players who have scored, each with
    the rank they held before the last question closed (None: they had not played yet)."""
    rows: list[dict[str, Any]] = []
    for row in room.ranking():
        if len(rows) == size:
            break
        if row["score"] <= 0:
            continue
        before = room.ranks_before.get(row["user_id"])
        rows.append({**row, "rank_before": before, "moved": 0 if before is None else before - row["rank"]})
    return rows


def revealed(result: dict[str, Any]) -> dict[str, Any]:
    """The reveal of a closed question's result, as ``question_closed`` shows it to everyone:
    its type, the right answer and the distribution (docs/protocol.md, "Question types")."""
    return {k: v for k, v in result.items() if k not in ("index", "reason", "results")}


def _still_to_answer(
    members: Mapping[str, Mapping[str, Any]], host_id: str, answers: Mapping[str, Any]
) -> int:
    """Online players without an answer among ``answers``: the walk ``Room.to_answer`` counts."""
    return sum(1 for u, m in members.items() if m["online"] and u != host_id and u not in answers)


def _checked_name(raw: str, word_filter: bool) -> str:
    """A chosen name as the room stores it, or the ``RoomError`` that refuses it."""
    try:
        name = normalise_name(raw)
    except NameInvalid as e:
        raise RoomError("name_invalid", str(e)) from None
    if word_filter and rude_word_in(name) is not None:
        raise RoomError("name_not_allowed", "This room does not allow that name: please choose another")
    return name


def _name_taken(name: str, holder: str) -> RoomError:
    """Refusal of a name that is, or looks the same as, ``holder``'s; it names the holder."""
    if name_key(name) == name_key(holder):
        message = f"Someone in this room is already called {holder}"
    else:
        message = f"“{name}” looks the same as “{holder}”, already in the room"
    return RoomError("name_taken", message, details={"clash": holder})
