"""The rules a room's events must keep, for ``quiz-replay --check``.

Replaying a room rebuilds whatever its events say; these rules say whether
what they say could have happened: each event is checked against the room as
it was before it (``before``) and the room it leaves (``after``).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from eventstore.replay import event_fields, event_type
from quiz_actors.domain.names import name_key
from quiz_actors.domain.questions import AnswerRefused, decide, read_answer
from quiz_actors.domain.room import CLOSED, ENDED, LOBBY, QUESTION, REVEAL, Room
from quiz_actors.tools.room_events import NOT_BROADCAST, answer_payload, answer_verdict, answer_words


class RoomRules:
    def __init__(self) -> None:
        self.seq: int | None = None
        self.closed_points: dict[str, int] = defaultdict(int)  # per user: points of closed questions
        self.open_points: dict[str, int] = {}  # answers to the open question

    # ------------------------------------------------------------ before the event

    def before(self, room: Room | None, event: Any) -> list[str]:
        kind, f = event_type(event), event_fields(event)
        if room is None:
            return [] if kind == "RoomCreated" else [f"a room must begin with RoomCreated, not {kind}"]
        if room.phase == CLOSED:
            return [f"{kind} after the room closed"]
        check = getattr(self, "_before_" + kind, None)
        return check(room, f) if check else []

    def _before_MemberJoined(self, room: Room, f: dict) -> list[str]:
        user = f["user_id"]
        if user in room.members:
            return [
                f"member counted twice: {user} joined while already a member "
                f"(as {room.members[user]['name']})"
            ]
        if user in room.kicked:
            return [f"{user} joined again after being kicked"]
        taken = [m["name"] for m in room.members.values() if name_key(m["name"]) == name_key(f["name"])]
        return [f"name {f['name']!r} taken by another member ({taken[0]!r})"] if taken else []

    def _member(self, room: Room, f: dict) -> list[str]:
        return [] if f["user_id"] in room.members else [f"{f['user_id']} is not a member"]

    def _before_MemberLeft(self, room: Room, f: dict) -> list[str]:
        problems = self._member(room, f)
        return problems or (["the host cannot leave the room"] if f["user_id"] == room.host_id else [])

    def _before_MemberKicked(self, room: Room, f: dict) -> list[str]:
        problems = self._member(room, f)
        return problems or (["the host cannot be kicked"] if f["user_id"] == room.host_id else [])

    def _before_MemberOffline(self, room: Room, f: dict) -> list[str]:
        problems = self._member(room, f)
        if not problems and not room.members[f["user_id"]]["online"]:
            problems.append(f"{f['user_id']} was already offline")
        return problems

    def _before_MemberOnline(self, room: Room, f: dict) -> list[str]:
        problems = self._member(room, f)
        if not problems and room.members[f["user_id"]]["online"]:
            problems.append(f"{f['user_id']} was already online")
        return problems

    def _before_RoomLocked(self, room: Room, f: dict) -> list[str]:
        return ["the room was already locked"] if room.locked else []

    def _before_RoomUnlocked(self, room: Room, f: dict) -> list[str]:
        return [] if room.locked else ["the room was not locked"]

    def _before_QuizStarted(self, room: Room, f: dict) -> list[str]:
        if room.phase == LOBBY and room.started_at is None:
            return []
        return [f"quiz started in phase {room.phase}"]

    def _before_QuestionShown(self, room: Room, f: dict) -> list[str]:
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
        elif f["deadline_at"] - f["shown_at"] != room.question(index)["time_limit_s"] * 1000:
            problems.append("its deadline does not match the question's time limit")
        return problems

    def _before_AnswerSubmitted(self, room: Room, f: dict) -> list[str]:
        user, question = f["user_id"], f["question"]
        if room.phase != QUESTION or question != room.question_index:
            return [f"answer to question {question} while {room.phase} (question {room.question_index})"]
        if user not in room.members:
            return [f"answer from {user}, who is not a member"]
        if user == room.host_id:
            return ["answer from the host"]
        if user in room.current["answers"]:
            return [f"second answer from {user} to question {question}"]
        problems = []
        if f["received_at"] > room.current["deadline_at"]:
            late = f["received_at"] - room.current["deadline_at"]
            problems.append(f"answer received {late} ms after its deadline")
        q = room.question(question)
        try:
            payload = read_answer(q, answer_payload(f))
        except AnswerRefused as refused:
            return problems + [f"the answer {answer_payload(f)} does not fit the question: {refused.message}"]
        if f["elapsed_ms"] != max(0, f["received_at"] - room.current["shown_at"]):
            problems.append(f"elapsed {f['elapsed_ms']} ms does not match its receipt time")
        # Judged and scored again by the domain's own rules.
        verdict, expected = decide(
            q, payload, elapsed_ms=f["elapsed_ms"], streak_before=room.members[user]["streak"]
        )
        if answer_verdict(f) != verdict.outcome or f["correct"] != verdict.right:
            problems.append(f"marked {answer_verdict(f)} but {answer_words(q, f)} is {verdict.outcome}")
        if (f["points"], f["streak"]) != (expected.points, expected.streak):
            problems.append(
                f"{f['points']} points, streak {f['streak']}; the scoring rule gives "
                f"{expected.points} points, streak {expected.streak}"
            )
        if not problems:
            self.open_points[user] = f["points"]
        return problems

    def _before_QuestionClosed(self, room: Room, f: dict) -> list[str]:
        if room.phase != QUESTION or f["index"] != room.question_index:
            return [f"question {f['index']} closed while {room.phase} (question {room.question_index})"]
        return []

    def _before_QuizEnded(self, room: Room, f: dict) -> list[str]:
        if room.phase in (QUESTION, ENDED):
            return [f"quiz ended while {room.phase}"]
        return []

    # ------------------------------------------------------------ after the event

    def after(self, room: Room, event: Any) -> list[str]:
        kind, problems = event_type(event), []
        step = 0 if kind in NOT_BROADCAST else 1
        expected_seq = 1 if self.seq is None else self.seq + step
        if room.seq != expected_seq:
            problems.append(f"seq {room.seq} after seq {self.seq} (expected {expected_seq})")
        self.seq = room.seq
        if kind == "QuestionClosed":
            for user, points in self.open_points.items():
                if user in room.members:  # points of a player who left before the close are not scored
                    self.closed_points[user] += points
            self.open_points = {}
        for user, member in room.members.items():
            if member["user_id"] != user:
                problems.append(f"member {user} recorded as {member['user_id']}")
            if member["score"] != self.closed_points.get(user, 0):
                problems.append(
                    f"{member['name']} ({user[:8]}) has score {member['score']}, but the points "
                    f"of closed questions add up to {self.closed_points.get(user, 0)}"
                )
        keys = [name_key(m["name"]) for m in room.members.values()]
        if len(keys) != len(set(keys)):
            problems.append("two members share a name")
        return problems
