"""type_answer: the player types a short text; right when it matches an accepted answer."""

from __future__ import annotations

import json
import unicodedata
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from quiz_actors.domain.questions.base import (
    JudgedAnswer,
    Payload,
    Problems,
    Question,
    QuestionType,
    bad_answer,
    payload_field,
    text_problem,
)
from quiz_actors.domain.questions.normalise import normalise_text
from quiz_actors.domain.verdict import Verdict, verdict_of

MAX_ANSWER_CHARS = 40
# The payload is stored as sent: spaces around the answer are allowed, not a page of them.
MAX_SENT_CHARS = 2 * MAX_ANSWER_CHARS
SPACES_ALLOWED = "\t\n\r"  # the only control characters a typed answer may hold (they count as spaces)
MAX_ACCEPTED = 10
COMMON_WRONG_SHOWN = 5


class TypeAnswer(QuestionType):
    name = "type_answer"
    payload_name = "text"

    def validate(self, q: Question, problems: Problems) -> dict[str, Any]:
        accepted = q.get("accepted")
        ignore_accents = q.get("ignore_accents", False)
        if not isinstance(ignore_accents, bool):
            problems.field(
                "ignore_accents", "must be true or false", "Say whether accents count (true or false)"
            )
            ignore_accents = False
        if not isinstance(accepted, list) or not 1 <= len(accepted) <= MAX_ACCEPTED:
            problems.field(
                "accepted",
                f"must be a list of 1 to {MAX_ACCEPTED} accepted answers",
                f"Give 1 to {MAX_ACCEPTED} answers that count as right",
                "accepted_count",
                {"max": MAX_ACCEPTED},
            )
            return {"accepted": [], "ignore_accents": ignore_accents}
        for j, text in enumerate(accepted):
            if not isinstance(text, str) or not normalise_text(text):
                problems.field(
                    f"accepted[{j}]",
                    "must be a non-empty string",
                    "Write an answer here, or remove it",
                    "accepted_empty",
                )
            elif len(text.strip()) > MAX_ANSWER_CHARS:
                problems.question(
                    f'the accepted answer "{text.strip()}" is longer than the {MAX_ANSWER_CHARS} '
                    "characters a player can type",
                    f"A player can type at most {MAX_ANSWER_CHARS} characters: shorten this answer",
                    at=f"accepted[{j}]",
                    code="accepted_too_long",
                    params={"max": MAX_ANSWER_CHARS},
                )
            elif (problem := text_problem(text)) is not None:
                problems.said(f"accepted[{j}]", problem)
        cleaned = [t.strip() if isinstance(t, str) else t for t in accepted]
        return {"accepted": cleaned, "ignore_accents": ignore_accents}

    def public(self, q: Question) -> dict[str, Any]:
        return {"choices": [], "max_length": MAX_ANSWER_CHARS}

    def read_answer(self, q: Question, message: Mapping[str, Any]) -> Payload:
        text = payload_field(
            message, "text", self.name, f"the typed answer, at most {MAX_ANSWER_CHARS} characters"
        )
        if not isinstance(text, str):
            raise bad_answer('"text" must be a string')
        if not normalise_text(text):
            raise bad_answer("Type an answer before sending it")
        if len(text.strip()) > MAX_ANSWER_CHARS or len(text) > MAX_SENT_CHARS:
            raise bad_answer(f"An answer is at most {MAX_ANSWER_CHARS} characters")
        if any(unicodedata.category(c) == "Cc" and c not in SPACES_ALLOWED for c in text):
            # They show as nothing on a screen, and no store's text column takes a NUL.
            raise bad_answer("An answer cannot hold control characters")
        return {"text": text}

    def judge(self, q: Question, payload: Payload) -> Verdict:
        typed = self._key(q, payload["text"])
        return verdict_of(any(typed == self._key(q, accepted) for accepted in q["accepted"]))

    def reveal(self, q: Question, answers: Sequence[JudgedAnswer]) -> dict[str, Any]:
        wrong = Counter(self._key(q, a.payload["text"]) for a in answers if not a.verdict.right)
        # Most common first; equally common ones alphabetically, so the reveal is the same on every replay.
        common = sorted(wrong.items(), key=lambda item: (-item[1], item[0]))[:COMMON_WRONG_SHOWN]
        return {
            "correct": [],
            "distribution": [],
            "accepted": list(q["accepted"]),
            "right_count": sum(1 for a in answers if a.verdict.right),
            "wrong_answers": [{"text": text, "count": count} for text, count in common],
        }

    def describe(self, q: Question, payload: Payload) -> str:
        return json.dumps(payload["text"], ensure_ascii=False)

    def describe_right(self, q: Question) -> str:
        return " or ".join(f'"{a}"' for a in q["accepted"])

    def words(self, q: Question, payload: Payload) -> str:
        return str(payload["text"]).strip()

    @staticmethod
    def _key(q: Question, text: str) -> str:
        return normalise_text(text, ignore_accents=q.get("ignore_accents", False))
