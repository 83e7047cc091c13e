"""Question types answered by tapping or ticking choices: choice, multi, true_false, poll."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from quiz_actors.domain.questions.base import (
    AnswerRefused,
    JudgedAnswer,
    Payload,
    Problems,
    Question,
    QuestionType,
    bad_answer,
    check_texts,
    counts,
    is_int,
    payload_field,
)
from quiz_actors.domain.verdict import UNJUDGED, Verdict, verdict_of

TRUE_FALSE_CHOICES = ("True", "False")


def _check_correct_indexes(q: Question, choices: list[str], problems: Problems) -> list[int]:
    correct = q.get("correct")
    if not isinstance(correct, list) or not correct:
        problems.field(
            "correct",
            "must be a non-empty list of choice indexes",
            "Mark at least one choice as right",
            "correct_missing",
        )
        return []
    for index in correct:
        if not is_int(index) or not 0 <= index < len(choices):
            problems.field(
                "correct",
                f"{index!r} is not an index into choices",
                "The right answer must be one of the choices",
            )
    if len({i for i in correct if is_int(i)}) != len(correct):
        problems.field("correct", "lists an index twice", "A choice is marked right twice")
    return sorted(correct) if all(is_int(i) for i in correct) else correct


def _one_choice(message: Mapping[str, Any], type_name: str, size: int) -> int:
    """The index of a single tapped choice: ``bad_choice`` when out of range, as in the first release."""
    choice = payload_field(message, "choice", type_name, f"the index of a choice, 0 to {size - 1}")
    if not is_int(choice):
        raise bad_answer('"choice" must be a whole number')
    if not 0 <= choice < size:
        raise AnswerRefused("bad_choice", f"Choose between 0 and {size - 1}")
    return int(choice)


def _quoted(q: Question, indexes: Sequence[int]) -> str:
    return ", ".join(f'"{q["choices"][i]}"' for i in indexes)


class _ChoicesWithRightOnes(QuestionType):
    """What choice and multi share: 2–6 choices in the document, some of them right."""

    def validate(self, q: Question, problems: Problems) -> dict[str, Any]:
        choices = check_texts(q, "choices", problems)
        return {"choices": choices, "correct": _check_correct_indexes(q, choices, problems)}

    def public(self, q: Question) -> dict[str, Any]:
        return {"choices": list(q["choices"])}

    def describe_right(self, q: Question) -> str:
        return _quoted(q, q["correct"])


class Choice(_ChoicesWithRightOnes):
    """Tap one of 2–6 choices; right when it is any one of ``correct``."""

    name = "choice"
    payload_name = "choice"

    def read_answer(self, q: Question, message: Mapping[str, Any]) -> Payload:
        return {"choice": _one_choice(message, self.name, len(q["choices"]))}

    def judge(self, q: Question, payload: Payload) -> Verdict:
        return verdict_of(payload["choice"] in q["correct"])

    def reveal(self, q: Question, answers: Sequence[JudgedAnswer]) -> dict[str, Any]:
        tapped = [a.payload["choice"] for a in answers]
        return {"correct": list(q["correct"]), "distribution": counts(tapped, len(q["choices"]))}

    def describe(self, q: Question, payload: Payload) -> str:
        return f"{payload['choice']} {_quoted(q, [payload['choice']])}"

    def words(self, q: Question, payload: Payload) -> str:
        return str(q["choices"][payload["choice"]])


class Multi(_ChoicesWithRightOnes):
    """Tick any of 2–6 choices, then submit; right when the set is exactly ``correct``."""

    name = "multi"
    payload_name = "choices"

    def read_answer(self, q: Question, message: Mapping[str, Any]) -> Payload:
        size = len(q["choices"])
        ticked = payload_field(message, "choices", self.name, "the list of the ticked choices' indexes")
        if not isinstance(ticked, list) or not all(is_int(i) for i in ticked):
            raise bad_answer('"choices" must be a list of choice indexes')
        if not ticked:
            # The right set is never empty, so an empty one can only be a slip.
            raise bad_answer("Tick at least one choice before submitting")
        if any(not 0 <= i < size for i in ticked):
            raise bad_answer(f"Each choice is a number from 0 to {size - 1}")
        if len(set(ticked)) != len(ticked):
            raise bad_answer("A choice is ticked twice")
        return {"choices": list(ticked)}

    def judge(self, q: Question, payload: Payload) -> Verdict:
        return verdict_of(sorted(payload["choices"]) == list(q["correct"]))

    def reveal(self, q: Question, answers: Sequence[JudgedAnswer]) -> dict[str, Any]:
        ticked = [i for a in answers for i in a.payload["choices"]]
        return {"correct": list(q["correct"]), "distribution": counts(ticked, len(q["choices"]))}

    def describe(self, q: Question, payload: Payload) -> str:
        ticked = sorted(payload["choices"])
        return f"{ticked} {_quoted(q, ticked)}"

    def words(self, q: Question, payload: Payload) -> str:
        return ", ".join(q["choices"][i] for i in sorted(payload["choices"]))


class TrueFalse(QuestionType):
    """Tap True (choice 0) or False (choice 1); ``correct`` is true or false."""

    name = "true_false"
    payload_name = "choice"

    def validate(self, q: Question, problems: Problems) -> dict[str, Any]:
        correct = q.get("correct")
        if not isinstance(correct, bool):
            problems.field("correct", "must be true or false", "Say whether the statement is true or false")
        return {"correct": correct}

    def public(self, q: Question) -> dict[str, Any]:
        return {"choices": list(TRUE_FALSE_CHOICES)}

    def read_answer(self, q: Question, message: Mapping[str, Any]) -> Payload:
        return {"choice": _one_choice(message, self.name, len(TRUE_FALSE_CHOICES))}

    def judge(self, q: Question, payload: Payload) -> Verdict:
        return verdict_of(payload["choice"] == self._right_choice(q))

    def reveal(self, q: Question, answers: Sequence[JudgedAnswer]) -> dict[str, Any]:
        tapped = [a.payload["choice"] for a in answers]
        return {"correct": [self._right_choice(q)], "distribution": counts(tapped, len(TRUE_FALSE_CHOICES))}

    def describe(self, q: Question, payload: Payload) -> str:
        return TRUE_FALSE_CHOICES[payload["choice"]]

    def describe_right(self, q: Question) -> str:
        return TRUE_FALSE_CHOICES[self._right_choice(q)]

    @staticmethod
    def _right_choice(q: Question) -> int:
        return 0 if q["correct"] else 1


class Poll(QuestionType):
    """Tap one of 2–6 choices; nothing is right, nothing is scored, the streak is left alone."""

    name = "poll"
    payload_name = "choice"
    judged = False

    def validate(self, q: Question, problems: Problems) -> dict[str, Any]:
        choices = check_texts(q, "choices", problems)
        if "correct" in q:
            problems.question(
                'a poll has no right answer: leave "correct" out',
                "A poll has no right answer: unmark the right ones",
                at="correct",
            )
        return {"choices": choices}

    def public(self, q: Question) -> dict[str, Any]:
        return {"choices": list(q["choices"])}

    def read_answer(self, q: Question, message: Mapping[str, Any]) -> Payload:
        return {"choice": _one_choice(message, self.name, len(q["choices"]))}

    def judge(self, q: Question, payload: Payload) -> Verdict:
        return Verdict(UNJUDGED)

    def reveal(self, q: Question, answers: Sequence[JudgedAnswer]) -> dict[str, Any]:
        tapped = [a.payload["choice"] for a in answers]
        return {"correct": [], "distribution": counts(tapped, len(q["choices"]))}

    def describe(self, q: Question, payload: Payload) -> str:
        return f"{payload['choice']} {_quoted(q, [payload['choice']])}"

    def words(self, q: Question, payload: Payload) -> str:
        return str(q["choices"][payload["choice"]])

    def describe_right(self, q: Question) -> str:
        return ""
