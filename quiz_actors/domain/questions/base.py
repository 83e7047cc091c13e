"""What every question type provides, and the helpers their checks share.

A question type owns everything about its kind of question: which document
fields it needs (and the problems a teacher is told about), what a phone may see
while the question is open, which answers it accepts, how it judges them, and
what the reveal shows once the question has closed.
"""

from __future__ import annotations

import unicodedata
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from quiz_actors.domain.verdict import Verdict

Question = Mapping[str, Any]  # one validated question of a quiz document
Payload = dict[str, Any]  # an answer's one payload field as the player sent it: {"choice": 2}

MAX_CHOICE_TEXT = 120
MIN_CHOICES, MAX_CHOICES = 2, 6
ALLOWED_WHITESPACE = "\t\n\r"  # the only control characters quiz text may hold
TEXTS_IN_WORDS = {"choices": "choices", "items": "items to put in order"}


class AnswerRefused(ValueError):
    """An answer that does not fit its question; nothing about the room changes.

    ``code`` is the error code a player gets (docs/protocol.md, "Errors").
    """

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def bad_answer(message: str) -> AnswerRefused:
    return AnswerRefused("bad_answer", message)


@dataclass(frozen=True)
class JudgedAnswer:
    """One answer as the reveal counts it: what was sent and how it was judged."""

    payload: Payload
    verdict: Verdict


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a quiz document.

    ``path`` points into the document (``questions[0].correct``); ``message``
    says it in a teacher's words, without the path, for the editor to show next
    to the field; ``detail`` is how releases before the editor said it (path
    first), which the API keeps sending as ``details`` to old clients and scripts.
    ``code`` names the kind of problem for a page that says it in its own language
    (docs/api.md, "Problem codes"), with ``params`` the numbers and texts its words
    need; a problem without a code is said only by ``message``.
    """

    path: str
    message: str
    detail: str
    code: str = ""
    params: dict[str, str | int] = field(default_factory=dict)

    def as_json(self) -> dict[str, object]:
        out: dict[str, object] = {"path": self.path, "message": self.message}
        if self.code:
            out["code"] = self.code
            out["params"] = dict(self.params)
        return out


@dataclass(frozen=True)
class Said:
    """What a check says about one field: how the first release said it (``detail``),
    in a teacher's words (``plain``), and the code and params a page translates."""

    detail: str
    plain: str
    code: str = ""
    params: dict[str, str | int] = field(default_factory=dict)


class Problems:
    """Collects one question's problems, each saying where it is, in a teacher's words.

    A ``choice`` question keeps the details of the release before question
    types (``questions[0].choices: …``), which people and scripts already know;
    every other type names itself: ``questions[2] (slider): …``.
    """

    def __init__(self, path: str, type_name: str, errors: list[Problem]):
        self.path = path
        self.type_name = type_name
        self.errors = errors

    def field(
        self, name: str, detail: str, plain: str, code: str = "", params: dict[str, str | int] | None = None
    ) -> None:
        """A problem with one field: ``detail`` reads on after the field's name; ``plain`` stands alone."""
        if self.type_name == "choice":
            said = f"{self.path}.{name}: {detail}"
        else:
            said = f'{self.path} ({self.type_name}): "{name}" {detail}'
        self.errors.append(Problem(f"{self.path}.{name}", plain, said, code, params or {}))

    def said(self, name: str, what: Said) -> None:
        """A problem with one field, as ``text_problem`` says it."""
        self.field(name, what.detail, what.plain, what.code, what.params)

    def question(
        self,
        detail: str,
        plain: str | None = None,
        at: str | None = None,
        code: str = "",
        params: dict[str, str | int] | None = None,
    ) -> None:
        """A problem with the question as a whole, said as a sentence (``plain`` when it needs
        other words); ``at`` names the field the editor shows it beside, when there is one."""
        if self.type_name == "choice":
            said = f"{self.path}: {detail}"
        else:
            said = f"{self.path} ({self.type_name}): {detail}"
        path = f"{self.path}.{at}" if at else self.path
        self.errors.append(Problem(path, plain or sentence(detail), said, code, params or {}))


def sentence(text: str) -> str:
    """``the smallest value…`` as a sentence on its own: ``The smallest value…``."""
    return text[:1].upper() + text[1:]


def text_problem(text: str) -> Said | None:
    """Why a quiz's ``text`` cannot be shown and stored as it is, or None.

    Half a character (an unpaired surrogate, from a ``\\ud800`` escape) cannot
    be written as UTF-8, so no store could hold it. Control characters other
    than ordinary whitespace show as nothing or as garbage on a screen, and NUL
    cannot be held by PostgreSQL's text (the audit read model's JSONB).
    """
    if any("\ud800" <= ch <= "\udfff" for ch in text):
        return Said(
            "must be valid Unicode: no unpaired \\ud800-\\udfff escapes",
            "This text holds a broken character (half of one); type it again",
            "text_broken",
        )
    control = next(
        (ch for ch in text if unicodedata.category(ch) == "Cc" and ch not in ALLOWED_WHITESPACE), None
    )
    if control is not None:
        return Said(
            f"must not contain control characters (found U+{ord(control):04X}); tabs and newlines are fine",
            f"This text holds an invisible control character (U+{ord(control):04X}); remove it",
            "text_control",
            {"character": f"U+{ord(control):04X}"},
        )
    return None


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_texts(q: Question, name: str, problems: Problems, max_chars: int = MAX_CHOICE_TEXT) -> list[str]:
    """A list of MIN_CHOICES to MAX_CHOICES non-empty texts (choices, order items), trimmed."""
    texts = q.get(name)
    what = TEXTS_IN_WORDS.get(name, name)
    if not isinstance(texts, list) or not MIN_CHOICES <= len(texts) <= MAX_CHOICES:
        count = f" (there are {len(texts)})" if isinstance(texts, list) else ""
        problems.field(
            name,
            f"must be a list of {MIN_CHOICES} to {MAX_CHOICES} strings",
            f"Give {MIN_CHOICES} to {MAX_CHOICES} {what}{count}",
            f"{name}_count",
            {"min": MIN_CHOICES, "max": MAX_CHOICES},
        )
        return []
    for j, text in enumerate(texts):
        if not isinstance(text, str) or not text.strip():
            problems.field(
                f"{name}[{j}]",
                "must be a non-empty string",
                "Write something here, or remove it",
                "text_empty",
            )
        elif len(text) > max_chars:
            problems.field(
                f"{name}[{j}]",
                f"at most {max_chars} characters",
                f"At most {max_chars} characters (this has {len(text)})",
                "text_too_long",
                {"max": max_chars, "length": len(text)},
            )
        elif (problem := text_problem(text)) is not None:
            problems.said(f"{name}[{j}]", problem)
    return [t.strip() if isinstance(t, str) else t for t in texts]


def payload_field(message: Mapping[str, Any], name: str, type_name: str, how: str) -> Any:
    """The answer's payload field for this type, or refuse an answer that lacks it."""
    if name not in message:
        raise bad_answer(f'A {type_name} question is answered with "{name}": {how}')
    return message[name]


def counts(values: Sequence[int], size: int) -> list[int]:
    tally = [0] * size
    for value in values:
        tally[value] += 1
    return tally


class QuestionType(ABC):
    """One kind of question. Subclasses are stateless; one instance of each serves every room."""

    name: str
    payload_name: str  # the field of ``answer`` that carries this type's answer
    judged = True  # False for a poll: no right answer, no points, streak untouched

    @abstractmethod
    def validate(self, q: Question, problems: Problems) -> dict[str, Any]:
        """The type's own fields, trimmed and with defaults; problems go to ``problems``."""

    @abstractmethod
    def public(self, q: Question) -> dict[str, Any]:
        """What a phone needs to show the open question: never the right answer."""

    @abstractmethod
    def read_answer(self, q: Question, message: Mapping[str, Any]) -> Payload:
        """The payload of an ``answer`` message, as given, or raise AnswerRefused."""

    @abstractmethod
    def judge(self, q: Question, payload: Payload) -> Verdict:
        """Right or wrong (or not judged), for a payload ``read_answer`` accepted."""

    @abstractmethod
    def reveal(self, q: Question, answers: Sequence[JudgedAnswer]) -> dict[str, Any]:
        """The right answer and how the answers fell, once the question has closed.

        Always ``correct`` and ``distribution`` (lists of numbers, as clients of
        the first release know them), plus the type's own fields.
        """

    @abstractmethod
    def describe(self, q: Question, payload: Payload) -> str:
        """An answer in words, for the replay and audit tools: ``2 "Paris"``."""

    @abstractmethod
    def describe_right(self, q: Question) -> str:
        """The right answer in words (empty for a poll)."""

    def words(self, q: Question, payload: Payload) -> str:
        """An answer as a person reads it in a report (``Paris``): ``describe`` without the
        indexes and quotes the tools keep to be exact."""
        return self.describe(q, payload)
