"""The rules a room's events must keep, for ``quiz-replay --check``.

Replaying a room rebuilds whatever its events say; these rules say whether
what they say could have happened: each event is checked against the room as
it was before it (``before``) and the room it leaves (``after``). Whatever the
domain decides (an answer's points, a question's deadline, who holds a name,
which events advance seq) is asked of the domain, never worked out again here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from eventstore.replay import event_fields, event_type
from quiz_actors.domain.names import name_key
from quiz_actors.domain.questions import AnswerRefused, read_answer
from quiz_actors.domain.room import CLOSED, ENDED, LOBBY, NOT_BROADCAST, QUESTION, REVEAL, Room
from quiz_actors.tools.room_events import answer_words

Check = Callable[[Room, dict[str, Any]], list[str]]


class RoomRules:
    def __init__(self) -> None:
        self.seq: int | None = None
        self.scores_before_close: dict[str, int] = {}
        # What each kind of event needs of the room before it.
        self.checks_before: dict[type[Any], Check] = {
            Room.MemberJoined: self._before_joined,
            Room.MemberLeft: self._before_left,
            Room.MemberKicked: self._before_kicked,
            Room.MemberOffline: self._before_offline,
            Room.MemberOnline: self._before_online,
            Room.RoomLocked: self._before_locked,
            Room.RoomUnlocked: self._before_unlocked,
            Room.QuizStarted: self._before_started,
            Room.QuestionShown: self._before_shown,
            Room.AnswerSubmitted: self._before_answer,
            Room.QuestionClosed: self._before_closed,
            Room.LeaderboardShown: self._before_leaderboard,
            Room.QuizEnded: self._before_ended,
        }

    # ------------------------------------------------------------ before the event

    def before(self, room: Room | None, event: Any) -> list[str]:
        kind, f = event_type(event), event_fields(event)
        if room is None:
            if isinstance(event, Room.RoomCreated):
                return []
            return [f"a room must begin with {Room.RoomCreated.__name__}, not {kind}"]
        if room.phase == CLOSED:
            return [f"{kind} after the room closed"]
        check = self.checks_before.get(type(event))
        return check(room, f) if check else []

    def _before_joined(self, room: Room, f: dict[str, Any]) -> list[str]:
        user = f["user_id"]
        if user in room.members:
            return [
                f"member counted twice: {user} joined while already a member "
                f"(as {room.members[user]['name']})"
            ]
        if user in room.kicked:
            return [f"{user} joined again after being kicked"]
        holder = room.names_taken.get(name_key(f["name"]))
        if holder is None:
            return []
        return [f"name {f['name']!r} taken by another member ({room.members[holder]['name']!r})"]

    def _member(self, room: Room, f: dict[str, Any]) -> list[str]:
        return [] if f["user_id"] in room.members else [f"{f['user_id']} is not a member"]

    def _before_left(self, room: Room, f: dict[str, Any]) -> list[str]:
        problems = self._member(room, f)
        return problems or (["the host cannot leave the room"] if f["user_id"] == room.host_id else [])

    def _before_kicked(self, room: Room, f: dict[str, Any]) -> list[str]:
        problems = self._member(room, f)
        return problems or (["the host cannot be kicked"] if f["user_id"] == room.host_id else [])

    def _before_offline(self, room: Room, f: dict[str, Any]) -> list[str]:
        problems = self._member(room, f)
        if not problems and not room.members[f["user_id"]]["online"]:
            problems.append(f"{f['user_id']} was already offline")
        return problems

    def _before_online(self, room: Room, f: dict[str, Any]) -> list[str]:
        problems = self._member(room, f)
        if not problems and room.members[f["user_id"]]["online"]:
            problems.append(f"{f['user_id']} was already online")
        return problems

    def _before_locked(self, room: Room, f: dict[str, Any]) -> list[str]:
        return ["the room was already locked"] if room.locked else []

    def _before_unlocked(self, room: Room, f: dict[str, Any]) -> list[str]:
        return [] if room.locked else ["the room was not locked"]

    def _before_started(self, room: Room, f: dict[str, Any]) -> list[str]:
        if room.phase == LOBBY and room.started_at is None:
            return []
        return [f"quiz started in phase {room.phase}"]

    def _before_shown(self, room: Room, f: dict[str, Any]) -> list[str]:
        index, problems = f["index"], []
        if room.started_at is None or room.phase not in (LOBBY, REVEAL):
            problems.append(
                f"question shown in phase {room.phase}"
                + (" before the quiz started" if room.started_at is None else "")
            )
        if index != room.question_index + 1 or index >= room.question_count:
            problems.append(
                f"question {index} shown after question {room.question_index} (of {room.question_count})"
            )
        elif f["opens_at"] != f["shown_at"] + room.get_ready_ms():
            problems.append("its answers open at a time that does not match the quiz's get-ready time")
        elif f["deadline_at"] != room.deadline_for(index, f["opens_at"]):
            problems.append("its deadline does not match the question's time limit")
        return problems

    def _before_leaderboard(self, room: Room, f: dict[str, Any]) -> list[str]:
        if room.phase != REVEAL or f["index"] != room.question_index:
            return [f"leaderboard of question {f['index']} shown while {room.phase}"]
        return ["the leaderboard was shown twice"] if room.leaderboard_shown else []

    def _before_answer(self, room: Room, f: dict[str, Any]) -> list[str]:
        user, question = f["user_id"], f["question"]
        if room.phase != QUESTION or question != room.question_index:
            return [f"answer to question {question} while {room.phase} (question {room.question_index})"]
        if user not in room.members:
            return [f"answer from {user}, who is not a member"]
        if user == room.host_id:
            return ["answer from the host"]
        assert room.current is not None  # a question is open
        if user in room.current["answers"]:
            return [f"second answer from {user} to question {question}"]
        problems: list[str] = []
        if f["received_at"] < room.current["opens_at"]:
            early = room.current["opens_at"] - f["received_at"]
            problems.append(f"answer received {early} ms before answers opened")
        if f["received_at"] > room.current["deadline_at"]:
            late = f["received_at"] - room.current["deadline_at"]
            problems.append(f"answer received {late} ms after its deadline")
        q = room.question(question)
        try:
            payload = read_answer(q, f["answer"])
        except AnswerRefused as refused:
            return problems + [f"the answer {f['answer']} does not fit the question: {refused.message}"]
        mark = room.mark_answer(user, payload, f["received_at"])
        if f["elapsed_ms"] != mark.elapsed_ms:
            problems.append(f"elapsed {f['elapsed_ms']} ms does not match its receipt time")
        if (f["verdict"], f["correct"]) != (mark.verdict, mark.correct):
            problems.append(f"marked {f['verdict']} but {answer_words(q, f['answer'])} is {mark.verdict}")
        if (f["points"], f["streak"]) != (mark.points, mark.streak):
            problems.append(
                f"{f['points']} points, streak {f['streak']}; the scoring rule gives "
                f"{mark.points} points, streak {mark.streak}"
            )
        return problems

    def _before_closed(self, room: Room, f: dict[str, Any]) -> list[str]:
        if room.phase != QUESTION or f["index"] != room.question_index:
            return [f"question {f['index']} closed while {room.phase} (question {room.question_index})"]
        self.scores_before_close = {user: m["score"] for user, m in room.members.items()}
        return []

    def _before_ended(self, room: Room, f: dict[str, Any]) -> list[str]:
        if room.phase in (QUESTION, ENDED):
            return [f"quiz ended while {room.phase}"]
        return []

    # ------------------------------------------------------------ after the event

    def after(self, room: Room, event: Any) -> list[str]:
        problems: list[str] = []
        step = 0 if isinstance(event, NOT_BROADCAST) else 1
        expected_seq = 1 if self.seq is None else self.seq + step
        if room.seq != expected_seq:
            problems.append(f"seq {room.seq} after seq {self.seq} (expected {expected_seq})")
        self.seq = room.seq
        if isinstance(event, Room.QuestionClosed):
            problems += self._scores_after_close(room)
        for user, member in room.members.items():
            if member["user_id"] != user:
                problems.append(f"member {user} recorded as {member['user_id']}")
        if len(room.names_taken) != len(room.members) or set(room.names_taken.values()) != set(room.members):
            problems.append("two members share a name")
        return problems

    def _scores_after_close(self, room: Room) -> list[str]:
        """A close adds to each player's score the points of their answer, and nothing else."""
        assert room.current is not None and room.last_result is not None
        answers, problems = room.current["answers"], []
        for user, result in room.last_result["results"].items():
            member = room.members[user]
            points = answers[user]["points"] if user in answers else 0
            expected = self.scores_before_close.get(user, 0) + points
            if member["score"] != expected or result["score"] != expected:
                problems.append(
                    f"{member['name']} ({user[:8]}) has score {member['score']}, but their score before "
                    f"the close and the points of their answer add up to {expected}"
                )
        return problems
